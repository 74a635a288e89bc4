"""An auditor in a real browser (Debian's chromium): signs in, searches the exchange log
with filters, opens a record, the person report and the other reports, downloads an
export and checks it against its signed manifest, verifies the chain — and can change
nothing. Each page passes axe-core and is kept as a screenshot of docs/auditors.md."""

from __future__ import annotations

import csv
import hashlib
import io

from gateway.audit.checkpoints import create_checkpoint
from gateway.audit.manifest import ExportManifest
from gateway.db import db
from gateway.vault import vault_of
from tests.browser.checks import axe, screenshot, sign_in
from tests.conftest import grant_consent
from tests.people import make_user
from tests.test_audit import logged  # noqa: F401  (the fixture)
from tests.test_audit_queries import EMAIL, just_before_seq_1

AUDITOR = ("aude@example.test", "an auditor's long passphrase")
NARROW = {"width": 390, "height": 844}


def open_section(page, name: str) -> None:
    page.get_by_role("navigation", name="Audit").get_by_role("link", name=name).click()
    page.wait_for_load_state()


def rows(page) -> list[str]:
    return page.locator("table tbody tr").all_inner_texts()


def test_an_auditor_reads_reports_exports_and_changes_nothing(page, logged, tmp_path):  # noqa: F811
    make_user(logged, *AUDITOR[:1], "auditor", password=AUDITOR[1])
    with logged.app_context():
        create_checkpoint(db.session, vault_of(logged))
        db.session.commit()
    sign_in(page, *AUDITOR)

    # One "Audit" entry in the header opens the log; its pages are a sub-navigation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Exchange log"
    assert len(rows(page)) == 6

    # Searching with filters, as the API's search does.
    page.get_by_label("Tool").fill("mailchimp")
    page.get_by_label("Decision").select_option("allow")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/portal/exchanges?*decision=allow*")
    assert len(rows(page)) == 5  # all but Bob's sign-up, which was refused
    axe(page)
    screenshot(page, "audit-exchange-log")
    page.locator("summary", has_text="More filters").click()
    page.get_by_label("Data category (and below)").fill("user.contact")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/portal/exchanges?*category=user.contact*")
    assert len(rows(page)) == 2  # Ada's and Alan's sign-ups
    assert page.get_by_label("Data category (and below)").is_visible()  # kept open

    # A record in full.
    page.get_by_role("link", name="Record 1", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Record 1")
    assert "0" * 64 in page.locator("section.chain-position").inner_text()
    assert page.locator("h3 + table tbody tr").count() == 1  # Ada's consent, relied on
    axe(page)
    screenshot(page, "audit-record")

    # The person report: the address typed is hashed; the page names no address.
    open_section(page, "Person report")
    page.get_by_label("E-mail address").fill("ada@example.com")
    page.get_by_role("button", name="Report").click()
    page.wait_for_url("**/portal/audit/people?*")
    assert page.get_by_role("cell", name="mailchimp", exact=True).count() == 1
    assert "ada@example.com" not in page.locator("main table").first.inner_text()
    axe(page)
    screenshot(page, "audit-person-report")

    # Ada's withdrawal reaches the registry late, dated before her data was sent.
    grant_consent(
        logged, EMAIL, "ada@example.com", status="withdrawn", occurred_at=just_before_seq_1(logged)
    )
    for name in ("Record of processing", "Withdrawal check"):
        open_section(page, name)
        assert page.get_by_role("heading", level=1).inner_text() == name
        axe(page)
    assert "1 violation." in page.locator("main").inner_text()
    screenshot(page, "audit-withdrawal-check")

    # An export, downloaded, matches its signed manifest.
    open_section(page, "Exports")
    page.get_by_label("Decision").select_option("allow")
    page.get_by_label("Format").select_option("csv")
    with page.expect_download() as started:
        page.get_by_role("button", name="Download export").click()
    exported = tmp_path / started.value.suggested_filename
    started.value.save_as(exported)
    records = list(csv.DictReader(io.StringIO(exported.read_text())))
    assert [row["decision"] for row in records] == ["allow"] * 5
    page.reload()
    link = page.get_by_role("link", name="manifest of export")
    manifest = ExportManifest.from_json(page.request.get(link.get_attribute("href")).text())
    assert manifest.signature_valid() and manifest.count == 5
    assert manifest.sha256 == hashlib.sha256(exported.read_bytes()).hexdigest()
    axe(page)
    screenshot(page, "audit-exports")

    # The chain: the last checkpoint, and a range verified from the page.
    open_section(page, "Chain")
    assert "Signature valid" in page.locator("main").inner_text()
    page.get_by_label("From record").fill("1")
    page.get_by_role("button", name="Verify").click()
    assert "Intact." in page.locator(".verification").inner_text()
    axe(page)
    page.evaluate("document.getElementById('verify').scrollIntoView()")
    screenshot(page, "audit-chain")

    open_section(page, "Auditors' trail")
    kinds = page.locator("table.trail tbody td:nth-child(4)").all_inner_texts()
    assert {"search", "person report", "export", "verify"} <= {k.split("\n")[0] for k in kinds}
    axe(page)
    screenshot(page, "audit-trail")

    # Nothing here writes; forged writes with the auditor's session are refused.
    for path in ("/portal/exchanges", "/portal/audit/exports", "/portal/audit/chain"):
        page.goto(path)
        assert page.locator("main form[method=post]").count() == 0, path
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    forged = page.request.post("/portal/tools/mailchimp/status/suspend", form={"reason": "x"})
    assert forged.status in (400, 403)
    forged = page.request.post(
        "/portal/tools/mailchimp/status/suspend", form={"reason": "x", "csrf_token": token}
    )
    assert forged.status == 403
    forged = page.request.patch(
        "/api/v1/tools/mailchimp", data={"name": "x"}, headers={"X-CSRFToken": token}
    )
    assert forged.status == 403

    # At a phone's width the header and the sub-navigation wrap; only tables scroll.
    page.set_viewport_size(NARROW)
    page.goto("/portal/exchanges")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    axe(page)
    screenshot(page, "audit-exchange-log-narrow")

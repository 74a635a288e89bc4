"""A reviewer in a real browser (Debian's chromium) opens the shadow-IT findings, turns
one into a request through the prefilled form, and marks another ignored. The pages are
checked with axe-core and kept as the IT guide's screenshots."""

from __future__ import annotations

import re

import pytest

from catalog.models import ToolRequest
from catalog.shadow_it.models import Finding
from catalog.shadow_it.recording import run_scan
from gateway.db import db
from tests.browser.checks import axe, screenshot, sign_in
from tests.people import make_user
from tests.shadow_it_catalog import SAMPLES, add_sample_tools, sample_context

REVIEWER = ("rita.reviewer@example.com", "a reviewer's long passphrase")


@pytest.fixture
def scanned(app):
    make_user(app, *REVIEWER[:1], "it_reviewer", ("marketing", "sales"), password=REVIEWER[1])
    with app.app_context():
        add_sample_tools(db.session)
        logs = [(SAMPLES / name, "auto") for name in ("squid_access.log", "card_expenses.csv")]
        run_scan(db.session, logs, sample_context(db.session), 3)
        db.session.commit()


def test_a_reviewer_turns_a_finding_into_a_request(app, page, scanned):
    sign_in(page, *REVIEWER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Shadow IT").click()
    assert page.locator("#findings tbody tr").count() == 4
    assert "unknownsaas.io" in page.locator("body").inner_text()
    axe(page)
    screenshot(page, "shadow-it-findings")

    page.get_by_role("link", name="Request this tool (Hotjar, marketing)").click()
    assert page.get_by_label("Vendor name").input_value() == "Hotjar"
    assert page.get_by_label("Vendor website").input_value() == "https://hotjar.com"
    assert page.get_by_label("Kind of tool").input_value() == "analytics"
    assert page.locator("[id='department-marketing']").is_checked()
    assert "shadow-IT finding" in page.get_by_label("Why do you need it?").input_value()
    _tick(page, "purposes-analytics")
    page.get_by_role("button", name="Check for overlaps").click()
    axe(page)
    screenshot(page, "shadow-it-request")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/portal/requests/\d+$"))
    with app.app_context():
        filed = db.session.query(ToolRequest).one()
        assert (filed.vendor_name, filed.website, filed.category) == (
            "Hotjar",
            "https://hotjar.com",
            "analytics",
        )
        assert filed.department_slugs == ["marketing"]
        assert sorted(filed.data_categories) == ["user.behavior", "user.device"]

    page.goto("/portal/shadow-it")
    page.get_by_role("button", name="Mark ignored (HubSpot, sales)").click()
    assert "HubSpot (sales) is ignored." in page.locator(".flash").inner_text()
    page.get_by_label("Status").select_option("new")
    page.get_by_role("button", name="Filter").click()
    assert "HubSpot" not in page.locator("#findings").inner_text()
    axe(page)
    with app.app_context():
        hubspot = db.session.query(Finding).filter_by(vendor_slug="hubspot").one()
        assert hubspot.status.value == "ignored"


def _tick(page, checkbox_id: str) -> None:
    box = page.locator(f"[id='{checkbox_id}']")
    details = box.locator("xpath=ancestor::details")
    if details.count() and not details.first.get_attribute("open"):
        details.first.locator("summary").click()
    box.check()

"""Issue 12's whole journey in a real browser (Debian's chromium), with a real OpenID
Provider and an official vendor SDK: a marketer asks for a tool, IT reviews and approves it
with conditions, an admin stores its credentials, the marketer registers an app, the SDK —
given only the portal's base URL and key — makes a governed call, an auditor reads its
record and can change nothing, and a suspension stops the next call within a second.

The pages it passes through are checked with axe-core and kept as the screenshots of the
guides (``docs/screenshots``).
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest
from brevo import Brevo
from brevo.core.api_error import ApiError

from connectors.sandbox.vendors import brevo as sandbox_brevo
from tests.browser.checks import axe, screenshot, sign_in
from tests.conftest import SANDBOX_MAILCHIMP_KEY, apply, demo_document, grant_consent
from tests.oidc import oidc_provider  # noqa: F401
from tests.people import make_user

ADMIN = ("ada.admin@example.com", "an admin's long passphrase")
HOSTILE = '<script>window.__hacked = 1</script><img src=x onerror="window.__hacked = 1">'


@pytest.fixture
def config(config, oidc_provider):  # noqa: F811
    # The snapshot is rebuilt at most once a second, as in production.
    return config.with_overrides(oidc=oidc_provider.settings(), snapshot_max_age=1.0)


@pytest.fixture
def catalog(app, sandbox):
    """Mailchimp approved for Growth's e-mail marketing; Ada consented to marketing."""
    apply(app, demo_document(sandbox), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    grant_consent(app, "marketing.communications", "ada@example.com")
    make_user(app, ADMIN[0], "admin", password=ADMIN[1])
    return sandbox


def person(browser, gateway):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=gateway)
    context.set_default_timeout(15_000)
    return context.new_page()


def sign_in_with_provider(page, provider, login: str) -> None:
    page.goto("/portal/sign-in")
    page.get_by_role("button", name=re.compile("Sign in with")).click()
    while page.url.startswith(provider.issuer):
        if page.locator("input[name=login]").count():
            page.fill("input[name=login]", login)
            page.fill("input[name=password]", "any password")
        page.locator("button[type=submit]").first.click()
        page.wait_for_load_state()
    page.wait_for_url("**/portal/**")


def test_from_request_to_governed_call_to_suspension(browser, gateway, catalog, oidc_provider):  # noqa: F811
    marketer, reviewer, admin, auditor = (person(browser, gateway) for _ in range(4))

    # The marketer signs in through the company's identity provider and searches the catalog.
    sign_in_with_provider(marketer, oidc_provider, "marketer")
    marketer.goto("/portal/catalog")
    marketer.get_by_label("Search").fill("mail")
    marketer.get_by_role("button", name="Search").click()
    assert marketer.get_by_role("link", name="Mailchimp").count()
    axe(marketer)
    screenshot(marketer, "catalog")

    # ... asks for Brevo: an approved tool already covers the purpose; a bad website is
    # refused and what was typed is kept.
    marketer.goto("/portal/requests/new")
    marketer.get_by_label("Vendor name").fill("Brevo")
    marketer.get_by_label("Vendor website").fill("brevo dot com")
    marketer.get_by_label("Kind of tool").select_option("email")
    marketer.get_by_label("Connector").select_option("brevo")
    _tick(marketer, "purposes-marketing.communications")
    _tick(marketer, "data_categories-user.contact.email")
    _tick(marketer, "department-growth")
    marketer.get_by_label("Why do you need it?").fill("Newsletters and welcome mails. " + HOSTILE)
    marketer.get_by_label("Urgency").select_option("high")
    marketer.get_by_role("button", name="Check for overlaps").click()
    website = marketer.get_by_label("Vendor website")
    assert website.get_attribute("aria-invalid") == "true"
    assert "must be a web address" in marketer.locator("#website-error").inner_text()
    assert marketer.get_by_label("Vendor name").input_value() == "Brevo"
    assert marketer.locator("[id='purposes-marketing.communications']").is_checked()
    website.fill("https://www.brevo.com")
    marketer.get_by_role("button", name="Check for overlaps").click()
    assert "Mailchimp" in marketer.locator("section.overlap").inner_text()
    axe(marketer)
    screenshot(marketer, "request-form")
    marketer.get_by_role("button", name="Submit request").click()
    marketer.wait_for_url(re.compile(r".*/portal/requests/\d+$"))
    request_path = marketer.url.split(gateway)[-1]
    request_id = request_path.rsplit("/", 1)[-1]

    # The reviewer, in the queue, asks a question; the marketer answers it.
    sign_in_with_provider(reviewer, oidc_provider, "reviewer")
    reviewer.goto("/portal/reviews")
    axe(reviewer)
    screenshot(reviewer, "review-queue")
    reviewer.goto(f"/portal/reviews/{request_id}")
    assert reviewer.evaluate("window.__hacked") is None  # typed script stays text
    assert HOSTILE in reviewer.locator("body").inner_text()
    reviewer.get_by_label("Ask the requester").fill("Will you import existing contacts?")
    reviewer.get_by_role("button", name="Send question").click()

    marketer.goto(request_path)
    assert "Will you import existing contacts?" in marketer.locator("body").inner_text()
    marketer.get_by_label("Your answer").fill("No, only new sign-ups.")
    marketer.get_by_role("button", name="Send answer").click()
    axe(marketer)
    screenshot(marketer, "request-page")

    # The reviewer completes the checklist and approves with conditions.
    reviewer.goto(f"/portal/reviews/{request_id}")
    reviewer.get_by_label("Data processing agreement signed on").fill("2026-11-02")
    reviewer.get_by_label("Vendor's security contact").fill("security@brevo.example")
    reviewer.get_by_label("Where the vendor processes the data").fill("FR")
    reviewer.get_by_label("Transfer basis").select_option("adequacy")
    reviewer.get_by_label("Single sign-on").select_option("yes")
    reviewer.get_by_label("Multi-factor authentication").select_option("yes")
    reviewer.get_by_label("The vendor uses no subprocessors").check()
    reviewer.get_by_label("Retention terms").fill("Contacts kept while the account lives.")
    reviewer.get_by_label("Deletion terms").fill("Deleted within 30 days of a request.")
    reviewer.get_by_role("button", name="Save checklist").click()
    reviewer.get_by_label("Approve with conditions").check()
    reviewer.get_by_label("Comment for the requester").fill("Approved for e-mail only.")
    reviewer.locator("#grants-0-department").select_option("growth")
    reviewer.locator("#grants-0-purposes").select_option(["marketing.communications"])
    reviewer.locator("#grants-0-data_categories").select_option(["user.contact.email"])
    reviewer.locator("#grants-0-expires").fill((date.today() + timedelta(days=365)).isoformat())
    reviewer.get_by_label("Base URL").fill(f"{catalog}/brevo/v3")
    reviewer.get_by_label("The vendor is on a private network").check()
    axe(reviewer)
    reviewer.evaluate("window.scrollTo(0, 0)")
    screenshot(reviewer, "review-page")
    reviewer.get_by_role("button", name="Record decision").click()
    reviewer.goto(f"/portal/reviews/{request_id}")
    assert "approve with conditions" in reviewer.locator("#decided-title").inner_text().lower()

    # The admin stores the vendor credentials (write-only).
    sign_in(admin, *ADMIN)
    admin.goto("/portal/tools/brevo/credentials")
    admin.get_by_label("api_key").fill(sandbox_brevo.CREDENTIALS["api_key"])
    admin.get_by_role("button", name="Store credentials").click()
    assert sandbox_brevo.CREDENTIALS["api_key"] not in admin.content()

    # The marketer registers an app and gets its key, once.
    marketer.goto("/portal/apps/new")
    marketer.get_by_label("Name").fill("Welcome mails")
    marketer.get_by_label("Brevo").check()
    marketer.get_by_role("button", name="Register the app").click()
    key = re.search(r"ghk_[A-Za-z0-9_-]+", marketer.locator(".secret").first.inner_text()).group(0)
    axe(marketer)
    screenshot(marketer, "app-registered")

    # Brevo's own SDK, given only the portal's base URL and that key, makes a governed call.
    sdk = Brevo(api_key=key, base_url=f"{gateway}/proxy/brevo")
    assert sdk.contacts.create_contact(email="ada@example.com", update_enabled=True).id

    # The auditor sees the record and has nothing that changes anything.
    sign_in_with_provider(auditor, oidc_provider, "auditor")
    auditor.goto("/portal/exchanges?tool=brevo")
    assert "allow" in auditor.locator("table").inner_text()
    axe(auditor)
    screenshot(auditor, "exchange-log")
    for path in ("/portal/catalog", "/portal/tools/brevo", "/portal/apps", "/portal/history"):
        auditor.goto(path)
        assert auditor.locator("main form[method=post]").count() == 0, path
    forged = auditor.request.post("/portal/tools/brevo/status/suspend", form={"reason": "forged"})
    assert forged.status in (400, 403)
    token = auditor.locator("meta[name=csrf-token]").get_attribute("content")
    forged = auditor.request.post(
        "/portal/tools/brevo/status/suspend", form={"reason": "forged", "csrf_token": token}
    )
    assert forged.status == 403

    # The reviewer suspends the tool: the next call is refused within a second.
    reviewer.goto("/portal/tools/brevo/status/suspend")
    reviewer.get_by_label("Reason").fill("Vendor breach under investigation")
    reviewer.get_by_role("button", name=re.compile("Suspend")).click()
    suspended_at = time.monotonic()
    with pytest.raises(ApiError) as refused:
        while time.monotonic() - suspended_at < 1.0:
            sdk.contacts.create_contact(email="ada@example.com", update_enabled=True)
    assert refused.value.status_code == 403
    assert time.monotonic() - suspended_at <= 1.0


def _tick(page, checkbox_id: str) -> None:
    """Ticks a checkbox, opening the group (``<details>``) it may be folded in."""
    box = page.locator(f"[id='{checkbox_id}']")
    details = box.locator("xpath=ancestor::details")
    if details.count() and not details.first.get_attribute("open"):
        details.first.locator("summary").click()
    box.check()

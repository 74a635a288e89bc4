"""A reviewer sets a tool's rate limits and vendor quota in the portal, and a department's
grant's limits: a limit that is not one is shown next to its field, the saved limits on
the tool's page with each grant's; the pages pass axe and are kept as screenshots of the
IT guide."""

from __future__ import annotations

from gateway.identity.roles import Role
from tests.browser.checks import axe, screenshot, sign_in
from tests.conftest import SANDBOX_MAILCHIMP_KEY, apply
from tests.people import make_user
from tests.test_rate_limits import limited_catalog

REVIEWER = ("rita.reviewer@example.com", "a reviewer's long passphrase")


def test_a_reviewer_sets_a_tools_limits(app, page):
    document = limited_catalog(
        "http://127.0.0.1:9", {"per_app": "100/minute", "per_department": ["1000/hour"]}
    )
    apply(app, document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    make_user(app, REVIEWER[0], Role.IT_REVIEWER, password=REVIEWER[1])
    sign_in(page, *REVIEWER)

    page.goto("/portal/tools/mailchimp/edit")
    page.get_by_label("Limits on the tool").fill("50/second, 10/fortnight")
    page.get_by_label("Vendor's quota").fill("10/second, 500000/month")
    page.get_by_label("If the counters' store (Redis) is unreachable").select_option("closed")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#rate_limits-error")
    assert "'10/fortnight' is not a rate limit" in error.inner_text()
    axe(page)
    page.locator("#rate_limits").scroll_into_view_if_needed()
    screenshot(page, "tool-rate-limits-refused")

    page.get_by_label("Limits on the tool").fill("50/second")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/portal/tools/mailchimp")
    facts = page.locator("dl.facts").first.inner_text()
    assert "50/second" in facts and "500000/month" in facts and "refused" in facts
    grants = page.get_by_role("table").first.inner_text()
    assert "each app: 100/minute" in grants and "department: 1000/hour" in grants
    axe(page)
    screenshot(page, "tool-rate-limits")


def test_a_reviewer_changes_a_grants_limits_then_withdraws_it(app, page):
    apply(app, limited_catalog("http://127.0.0.1:9"), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    make_user(app, REVIEWER[0], Role.IT_REVIEWER, password=REVIEWER[1])
    sign_in(page, *REVIEWER)

    page.goto("/portal/tools/mailchimp")
    page.get_by_role("link", name="Edit the grant of Growth").click()
    page.wait_for_url("**/portal/tools/mailchimp/grants/growth")
    page.get_by_label("Limit of each app").fill("100/minute, 5/fortnight")
    page.get_by_label("Limit of the department").fill("1000/hour")
    page.get_by_role("button", name="Save grant").click()
    assert (
        "'5/fortnight' is not a rate limit"
        in page.locator("#grant-limits-per_app-error").inner_text()
    )
    assert page.get_by_label("Limit of the department").input_value() == "1000/hour"
    axe(page)
    page.locator("#grant-limits-per_app").scroll_into_view_if_needed()
    screenshot(page, "grant-edit-refused")

    page.get_by_label("Limit of each app").fill("100/minute")
    page.get_by_role("button", name="Save grant").click()
    page.wait_for_url("**/portal/tools/mailchimp")
    assert "is saved" in page.get_by_role("status").first.inner_text()
    grants = page.get_by_role("table").first.inner_text()
    assert "each app: 100/minute" in grants and "department: 1000/hour" in grants
    axe(page)

    page.get_by_role("link", name="Edit the grant of Growth").click()
    page.get_by_role("link", name="Withdraw this grant…").click()
    axe(page)
    page.get_by_role("button", name="Withdraw the grant").click()
    page.wait_for_url("**/portal/tools/mailchimp")
    assert "Growth may no longer use Mailchimp." in page.get_by_role("status").first.inner_text()
    assert page.get_by_text("No department may use this tool yet.").is_visible()

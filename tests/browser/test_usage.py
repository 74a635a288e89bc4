"""A reviewer opens the usage dashboard over a month of traffic: the charts are drawn,
each beside its table, the report's table is there, and the housekeeping lists; both
pages pass axe and are kept as the screenshots of the IT guide."""

from __future__ import annotations

import random
from datetime import date, timedelta

from gateway.identity.roles import Role
from tests.browser.checks import axe, screenshot, sign_in
from tests.conftest import apply
from tests.people import make_user
from tests.test_usage import catalog_grant, catalog_tool, expected, seed

REVIEWER = ("rita.reviewer@example.com", "a reviewer's long passphrase")
CHARTS = ("chart-calls", "chart-decisions", "chart-refusals", "chart-slowest")


def test_a_reviewer_reads_the_usage_dashboard(app, page):
    first_day = date.today() - timedelta(days=29)
    seed(app, random.Random(5), 0, 400, [], first_day=first_day)  # noqa: S311
    today = date.today()
    apply(
        app,
        {
            "tools": [
                catalog_tool(
                    "mailchimp", seats=3, contract_volume=25, review_due=today + timedelta(9)
                ),
                catalog_tool("brevo", review_due=today - timedelta(days=2)),
            ],
            "grants": [
                catalog_grant("growth", "mailchimp", today + timedelta(days=20)),
                catalog_grant("brand", "brevo", None),
            ],
        },
    )
    make_user(app, REVIEWER[0], Role.IT_REVIEWER, password=REVIEWER[1])
    sign_in(page, *REVIEWER)

    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Usage", exact=True).click()
    page.wait_for_url("**/portal/usage")
    for chart in CHARTS:
        drawn = page.evaluate(f"() => Boolean(Chart.getChart('{chart}'))")
        assert drawn, f"{chart} was not drawn"
    assert page.get_by_role("table", name="Decisions per tool").count() == 1
    total_row = page.get_by_role("row", name="Total")
    assert total_row.count() == 1
    calls = expected(app, first_day.isoformat(), date.today().isoformat(), "tool")["total"]["calls"]
    assert total_row.inner_text().split()[:2] == ["Total", str(calls)]
    axe(page)
    screenshot(page, "usage-dashboard")
    page.locator("#chart-refusals").scroll_into_view_if_needed()
    screenshot(page, "usage-refusals-and-latency")

    page.get_by_label("Table by").select_option("department")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**by=department**")
    assert page.get_by_role("heading", name="By department").count() == 1

    page.get_by_role("navigation", name="Usage").get_by_role("link", name="Housekeeping").click()
    page.wait_for_url("**/portal/usage/housekeeping")
    unused = page.get_by_role("table", name="Approved tools without traffic for 30 days")
    assert "brevo" in unused.inner_text()
    assert "mailchimp" in page.get_by_role("table", name="Grants expired or expiring").inner_text()
    axe(page)
    screenshot(page, "usage-housekeeping")

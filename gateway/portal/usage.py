"""Usage in the portal: the dashboard (calls over time per tool, decision mix, top refusal
reasons, slowest vendors, and the report as a table) and the housekeeping lists.

Charts are drawn by Chart.js (vendored) from data the page carries as JSON; each chart
has the same figures as a table beside it, for screen readers and for copying.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from flask import render_template, request

from catalog.errors import Invalid
from catalog.usage import GROUPINGS, PERMISSION, calls_per_day, usage_query, usage_report
from gateway.db import db
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import SectionPage, nav_section
from gateway.usage_views import app_names, fresh_housekeeping, fresh_usage_report

#: The refusal reasons and vendors the dashboard's charts show at most.
CHART_TOP = 10
FILTERS = ("since", "until", "tool", "department", "app", "by")

nav_section(
    "Usage",
    PERMISSION,
    65,
    (
        SectionPage("portal.usage", "Dashboard", PERMISSION),
        SectionPage("portal.housekeeping", "Housekeeping", PERMISSION),
        SectionPage("portal.reviews_due", "Re-reviews due", "reviews:write"),
    ),
)


@bp.get("/usage")
@access.page(PERMISSION)
def usage():
    given = {name: request.args.get(name, "").strip() for name in FILTERS}
    try:
        query = usage_query(
            _day(given["since"], "since"),
            _day(given["until"], "until"),
            given["by"] or None,
            **{name: given[name] for name in ("tool", "department", "app")},
        )
    except Invalid as refusal:
        page = render_template(
            "portal/usage/dashboard.html", given=given, errors=refusal.errors, groupings=GROUPINGS
        )
        return page, 400
    report = fresh_usage_report(db.session, query)
    # refreshed just now: the charts' by-tool view reads the same aggregates again
    by_tool = usage_report(db.session, replace(query, by="tool")) if query.by != "tool" else report
    span = range((query.until - query.since).days + 1)
    days = [(query.since + timedelta(days=n)).isoformat() for n in span]
    return render_template(
        "portal/usage/dashboard.html",
        given={**given, "since": query.since.isoformat(), "until": query.until.isoformat()},
        errors=[],
        query=query,
        report=report,
        by_tool=by_tool,
        days=days,
        series=calls_per_day(db.session, query),
        refusals=sorted(report.total.refusals.items(), key=lambda item: (-item[1], item[0]))[
            :CHART_TOP
        ],
        slowest=_slowest(by_tool),
        names=app_names(db.session) if query.by == "app" else {},
        groupings=GROUPINGS,
    )


@bp.get("/usage/housekeeping")
@access.page(PERMISSION)
def housekeeping():
    days = request.args.get("days", "30").strip()
    if not days.isdigit() or not 1 <= int(days) <= 3660:
        return render_template("portal/usage/housekeeping.html", days=days, lists=None), 400
    lists = fresh_housekeeping(db.session, date.today(), int(days))
    return render_template("portal/usage/housekeeping.html", days=days, lists=lists)


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(
            "no such usage report", [{"pointer": f"/{name}", "message": "must be YYYY-MM-DD"}]
        ) from None


def _slowest(by_tool) -> list:
    timed = [row for row in by_tool.rows if row.p95_ms is not None and row.key]
    return sorted(timed, key=lambda row: (-row.p95_ms, row.key))[:CHART_TOP]

"""``gatehouse report usage`` and ``gatehouse report housekeeping``: what is used, by whom,
how well, and what the catalog holds that nobody uses. Text for people, ``--json`` or
``--csv`` for programs and spreadsheets."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date

import click
from flask.cli import AppGroup

from catalog.errors import Invalid
from catalog.usage import GROUPINGS, UsageRow, usage_query
from gateway.db import db
from gateway.usage_views import fresh_housekeeping, fresh_usage_report

report_group = AppGroup("report", help="Usage reports and housekeeping lists.")
_DAY = click.DateTime(formats=["%Y-%m-%d"])
#: The columns of the CSV and of the text table, in order.
COLUMNS = (
    "key",
    "calls",
    "allowed",
    "redacted",
    "denied",
    "pending",
    "records_sent",
    "people",
    "vendor_errors",
    "p50_ms",
    "p95_ms",
    "bytes_in",
    "bytes_out",
    "top_refusals",
    "categories",
)


@report_group.command("usage")
@click.option(
    "--since",
    type=_DAY,
    metavar="YYYY-MM-DD",
    help="First UTC day (default: 29 days before --until).",
)
@click.option("--until", type=_DAY, metavar="YYYY-MM-DD", help="Last UTC day (default: today).")
@click.option("--by", type=click.Choice(GROUPINGS), default="tool", show_default=True)
@click.option("--tool", help="Only this tool (slug).")
@click.option("--department", help="Only this department (slug).")
@click.option("--app", help="Only this app (client id).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the report as CSV.")
def report_usage(since, until, by, tool, department, app, as_json, as_csv) -> None:
    """Calls, decisions, records and people sent, categories, refusals, vendor errors,
    latency and bytes per tool, department, app or day (UTC days, both ends included)."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    try:
        query = usage_query(
            since.date() if since else None,
            until.date() if until else None,
            by,
            tool=tool,
            department=department,
            app=app,
        )
    except Invalid as exc:
        raise click.UsageError(_said(exc)) from None
    report = fresh_usage_report(db.session, query)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif as_csv:
        _write_csv([*report.rows, report.total])
    else:
        click.echo(f"Usage {query.since} to {query.until}, by {query.by}")
        _write_table([*report.rows, report.total], query.by)


@report_group.command("housekeeping")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the lists as JSON.")
def report_housekeeping(days: int, as_json: bool) -> None:
    """Approved tools and apps without traffic for DAYS days, grants never used, tools
    due for re-review and grants expiring within DAYS days, seats and volume vs use."""
    lists = fresh_housekeeping(db.session, date.today(), days)
    if as_json:
        click.echo(json.dumps(lists.as_dict(), indent=2))
        return
    for title, items in (
        (f"Approved tools without traffic for {days} days", lists.unused_tools),
        ("Grants never used", lists.unused_grants),
        (f"Apps silent for {days} days", lists.silent_apps),
        ("Re-reviews due", lists.reviews_due),
        ("Grants expiring", lists.expiring_grants),
        ("Seats and contract volume (last 30 days)", lists.contracts),
    ):
        click.echo(f"{title}: {len(items) or 'none'}")
        for item in items:
            fields = item.as_dict()
            click.echo("  " + ", ".join(f"{k}={v}" for k, v in fields.items() if v is not None))


def cell(row: UsageRow, column: str) -> str:
    """A row's value as text: refusals and categories as ``name:count`` joined by ``;``."""
    if column == "top_refusals":
        return ";".join(f"{rule}:{n}" for rule, n in row.top_refusals)
    if column == "categories":
        return ";".join(f"{name}:{n}" for name, n in sorted(row.categories.items()))
    value = getattr(row, column)
    return "" if value is None else str(value)


def _write_csv(rows: list[UsageRow]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(cell(row, column) for column in COLUMNS)


def _write_table(rows: list[UsageRow], by: str) -> None:
    shown = COLUMNS[1:-2]
    table = [[by, *shown]]
    table += [[row.key or "(unknown)", *(cell(row, c) or "-" for c in shown)] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        first, *rest = line
        numbers = (text.rjust(width) for text, width in zip(rest, widths[1:], strict=True))
        click.echo("  ".join([first.ljust(widths[0]), *numbers]))


def _said(error: Invalid) -> str:
    return "; ".join(item["pointer"].lstrip("/") + " " + item["message"] for item in error.errors)

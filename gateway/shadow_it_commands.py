"""``gatehouse shadow-it``: scan egress evidence for SaaS used around the gateway, then list,
mark and export the findings (the same services as the portal's findings page)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from catalog.errors import CatalogRefusal
from catalog.shadow_it.catalog_states import CatalogStates
from catalog.shadow_it.columns import parse_mapping
from catalog.shadow_it.departments import DepartmentMap
from catalog.shadow_it.evidence import parse_time
from catalog.shadow_it.findings import (
    EXPORT_FORMATS,
    FindingFilter,
    all_findings,
    export_findings,
    finding_as_dict,
    get_finding,
    get_unknown,
    set_status,
    set_unknown_status,
    unknown_as_dict,
    unknown_names,
)
from catalog.shadow_it.formats import FORMATS, ParseOptions
from catalog.shadow_it.models import CatalogState, FindingStatus
from catalog.shadow_it.recording import DEFAULT_UNKNOWN_THRESHOLD, ScanReport, run_scan
from catalog.shadow_it.scan import ScanContext
from connectors.saas_vendors import VendorIndex
from gateway.config import config_of
from gateway.db import db, utcnow
from gateway.identity.actors import Actor

shadow_it_group = AppGroup(
    "shadow-it", help="Find SaaS tools used around the gateway in proxy, DNS and expense logs."
)


class Refused(click.ClickException):
    """A bad input: one line on stderr, exit code 2."""

    exit_code = 2


@shadow_it_group.command("scan")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="auto")
@click.option(
    "--columns",
    help="Columns of a CSV/JSON export or expense file: host=dest_host,source=src_ip,user=...,"
    "department=...,time=...,bytes=...,merchant=...,amount=...,currency=...",
)
@click.option(
    "--departments",
    "departments_file",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML or CSV map of networks to departments (10.1.0.0/16: marketing).",
)
@click.option("--currency", default="EUR", help="Currency of expense lines that name none.")
@click.option(
    "--unknown-threshold",
    type=click.IntRange(min=1),
    default=DEFAULT_UNKNOWN_THRESHOLD,
    show_default=True,
    help="List an unknown domain or merchant seen at least this often.",
)
@click.option("--since", help="Count only events at or after this time (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print the scan report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def scan(
    files,
    file_format,
    columns,
    departments_file,
    currency,
    unknown_threshold,
    since,
    as_json,
    quiet,
) -> None:
    """Scan FILES (plain or gzip) and record the findings; re-scanning counts nothing twice."""
    try:
        context = _context(columns, departments_file, currency, since)
        paths = [(Path(name), file_format) for name in files]
        with _progress(paths, quiet) as advance:
            report = run_scan(db.session, paths, context, unknown_threshold, advance)
        db.session.commit()
    except CatalogRefusal as refusal:
        db.session.rollback()
        raise Refused(refusal.message) from refusal
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report)


def _context(columns, departments_file, currency, since) -> ScanContext:
    try:
        since_time = parse_time(since) if since else None
    except ValueError:
        raise Refused(f"--since: {since!r} is not an ISO 8601 date or time") from None
    departments = DepartmentMap.load(Path(departments_file)) if departments_file else None
    index = VendorIndex.default()
    return ScanContext(
        index=index,
        states=CatalogStates.read(db.session, index, config_of(current_app).egress_addresses),
        departments=departments or DepartmentMap.empty(),
        options=ParseOptions(columns=parse_mapping(columns), currency=currency.upper()),
        now=utcnow(),
        since=since_time,
    )


class _progress:
    """A progress bar on stderr by bytes read, only for a person watching a terminal."""

    def __init__(self, paths, quiet: bool) -> None:
        self.show = not quiet and sys.stderr.isatty()
        self.total = sum(path.stat().st_size for path, _ in paths)
        self.done: dict[Path, int] = {}

    def __enter__(self):
        if not self.show:
            return lambda path, position: None
        self.bar = click.progressbar(length=self.total, label="Scanning", file=sys.stderr)
        self.bar.__enter__()

        def advance(path: Path, position: int) -> None:
            self.bar.update(position - self.done.get(path, 0))
            self.done[path] = position

        return advance

    def __exit__(self, *failure) -> None:
        if self.show:
            self.bar.__exit__(*failure)


def _print_report(report: ScanReport) -> None:
    for file in report.files:
        click.echo(
            f"{file['file']} ({file['format']}): {file['lines']} lines, "
            f"{file['already_scanned_lines']} already scanned, {file['events']} events, "
            f"{file['sanctioned']} sanctioned, {file['malformed']} malformed"
        )
        for bad in file["malformed_samples"]:
            click.echo(f"  line {bad['line']}: {bad['reason']}: {bad['text']}")
        for overlap in file["overlaps"]:
            click.echo(f"  warning: {overlap}")
    click.echo(f"\n{len(report.findings)} findings ({report.new_findings} new):")
    for item in report.findings:
        click.echo("  " + _finding_line(item))
    if report.unknown:
        click.echo("\nUnknown, seen often (classify them in the portal):")
        for entry in report.unknown:
            click.echo(f"  {entry['kind']:8} {entry['name']}  {entry['hits']} times")


def _finding_line(item: dict) -> str:
    spend = ", ".join(f"{amount} {cur}" for cur, amount in item["spend"].items())
    return (
        f"#{item['id']} {item['vendor']['name']} · {item['department'] or 'no department'} · "
        f"{item['state'].replace('_', ' ')} · {item['status']} · {item['requests']} requests"
        + (f" · {spend}" if spend else "")
        + f" · {item['distinct_sources']} sources, {item['distinct_users']} users"
        + f" · {item['first_seen'][:10]} to {item['last_seen'][:10]}"
    )


def _filter(status, state, department, vendor) -> FindingFilter:
    return FindingFilter(status=status, state=state, department=department, vendor=vendor)


_filters = [
    click.option("--status", type=click.Choice([s.value for s in FindingStatus])),
    click.option("--state", type=click.Choice([s.value for s in CatalogState])),
    click.option("--department", help="A department's slug ('' for none)."),
    click.option("--vendor", help="A vendor's slug."),
]


def with_filters(command):
    for option in reversed(_filters):
        command = option(command)
    return command


@shadow_it_group.command("findings")
@with_filters
@click.option("--json", "as_json", is_flag=True)
def list_findings(status, state, department, vendor, as_json) -> None:
    """List stored findings."""
    found = [
        finding_as_dict(f)
        for f in all_findings(db.session, _filter(status, state, department, vendor))
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for item in found:
        click.echo(_finding_line(item))


@shadow_it_group.command("export")
@with_filters
@click.option("--format", "file_format", type=click.Choice(list(EXPORT_FORMATS)), default="json")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write.")
def export(status, state, department, vendor, file_format, output) -> None:
    """Write the findings as JSON or CSV."""
    where = _filter(status, state, department, vendor)
    for chunk in export_findings(all_findings(db.session, where), file_format):
        output.write(chunk)


@shadow_it_group.command("mark")
@click.argument("finding_id", type=int)
@click.argument("status", type=click.Choice([s.value for s in FindingStatus]))
def mark(finding_id: int, status: str) -> None:
    """Mark a finding known (being dealt with), ignored, or new again."""
    try:
        finding = get_finding(db.session, finding_id)
        set_status(db.session, Actor.for_operator("shadow-it mark"), "cli", finding, status)
    except CatalogRefusal as refusal:
        raise Refused(refusal.message) from refusal
    db.session.commit()
    click.echo(f"Finding #{finding.id} ({finding.vendor_name}) is {status}.")


@shadow_it_group.command("classify")
@click.argument("unknown_id", type=int)
@click.argument("status", type=click.Choice([s.value for s in FindingStatus]))
def classify(unknown_id: int, status: str) -> None:
    """Mark an unknown name (see `unknown`) known, ignored (listed last), or new again."""
    try:
        unknown = get_unknown(db.session, unknown_id)
        actor = Actor.for_operator("shadow-it classify")
        set_unknown_status(db.session, actor, "cli", unknown, status)
    except CatalogRefusal as refusal:
        raise Refused(refusal.message) from refusal
    db.session.commit()
    click.echo(f"{unknown.name} is {status}.")


@shadow_it_group.command("unknown")
@click.option("--json", "as_json", is_flag=True)
def unknown(as_json) -> None:
    """Domains and merchants no vendor claims, seen often: for IT to classify."""
    rows = [unknown_as_dict(row) for row in unknown_names(db.session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"#{row['id']} {row['kind']:8} {row['name']}  {row['hits']} times, "
            f"last {row['last_seen'][:10]} ({row['status']})"
        )

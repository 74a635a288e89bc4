"""Reading and acting on stored findings: a filtered page at a time, marking one known or
ignored (recorded in the history), exporting them as JSON or CSV, the unknown names
for IT to classify, and the request form's prefill for "request this tool"."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from catalog.cursors import BadCursor, make_cursor, read_cursor
from catalog.errors import Invalid, NotFound
from catalog.history import record_change
from catalog.request_fields import CATEGORIES
from catalog.shadow_it.models import CatalogState, Finding, FindingStatus, UnknownName
from catalog.shadow_it.tally import DISTINCT_CAP
from connectors.saas_vendors import VendorIndex
from gateway.identity.actors import Actor

MAX_FINDING_ID = 2**31 - 1
EXPORT_FORMATS = {"json": "application/json", "csv": "text/csv"}
CSV_COLUMNS = (
    "id",
    "vendor",
    "vendor_name",
    "category",
    "department",
    "state",
    "status",
    "first_seen",
    "last_seen",
    "requests",
    "bytes",
    "spend",
    "distinct_sources",
    "distinct_users",
    "kinds",
    "tool",
    "request_id",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class FindingFilter:
    status: str | None = None
    state: str | None = None
    department: str | None = None
    vendor: str | None = None

    def __post_init__(self) -> None:
        _check_choice("status", self.status, FindingStatus)
        _check_choice("state", self.state, CatalogState)

    def query(self) -> Select:
        query = select(Finding)
        if self.status:
            query = query.where(Finding.status == FindingStatus(self.status))
        if self.state:
            query = query.where(Finding.state == CatalogState(self.state))
        if self.department is not None:
            query = query.where(Finding.department == self.department)
        if self.vendor:
            query = query.where(Finding.vendor_slug == self.vendor)
        return query


def _check_choice(name: str, value: str | None, choices) -> None:
    if value and value not in {choice.value for choice in choices}:
        raise Invalid(
            f"{name} must be one of {', '.join(choice.value for choice in choices)}",
            [{"pointer": f"/{name}", "message": "not one of the choices"}],
        )


@dataclass(frozen=True)
class FindingPage:
    findings: list[Finding]
    next_cursor: str | None


def findings_page(
    session: Session, where: FindingFilter, limit: int, cursor: str | None
) -> FindingPage:
    """Most recently seen first."""
    query = where.query().order_by(Finding.last_seen.desc(), Finding.id.desc())
    key = read_cursor(cursor, 2)
    if key is not None:
        try:
            seen, last_id = datetime.fromisoformat(key[0]), int(key[1])
        except (TypeError, ValueError) as exc:
            raise BadCursor("cursor is not one this API returned") from exc
        query = query.where(
            or_(
                Finding.last_seen < seen,
                and_(Finding.last_seen == seen, Finding.id < last_id),
            )
        )
    found = list(session.scalars(query.limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    next_cursor = make_cursor([found[-1].last_seen.isoformat(), found[-1].id]) if more else None
    return FindingPage(found, next_cursor)


def all_findings(session: Session, where: FindingFilter) -> Iterator[Finding]:
    query = where.query().order_by(Finding.vendor_slug, Finding.department)
    yield from session.scalars(query.execution_options(yield_per=500))


def get_finding(session: Session, finding_id: int) -> Finding:
    finding = session.get(Finding, finding_id) if 0 < finding_id <= MAX_FINDING_ID else None
    if finding is None:
        raise NotFound(f"no finding {finding_id}")
    return finding


def set_status(
    session: Session, actor: Actor, source: str, finding: Finding, status: str
) -> Finding:
    """IT marks a finding known (it is being dealt with) or ignored, or new again."""
    label = f"{finding.vendor_name} ({finding.department or 'no department'})"
    return _mark(session, actor, source, "shadow_it_finding", finding, label, status)


def unknown_names(session: Session, limit: int = 200) -> list[UnknownName]:
    """The unknown names, the most frequent first; those IT ignored last."""
    ignored = UnknownName.status == FindingStatus.IGNORED
    query = select(UnknownName).order_by(ignored, UnknownName.hits.desc(), UnknownName.name)
    return list(session.scalars(query.limit(limit)))


def get_unknown(session: Session, unknown_id: int) -> UnknownName:
    found = session.get(UnknownName, unknown_id) if 0 < unknown_id <= MAX_FINDING_ID else None
    if found is None:
        raise NotFound(f"no unknown name {unknown_id}")
    return found


def set_unknown_status(
    session: Session, actor: Actor, source: str, unknown: UnknownName, status: str
) -> UnknownName:
    """IT classifies an unknown name: known (looked at: not a SaaS tool, or dealt with),
    ignored (listed last from now on), or new again."""
    label = f"{unknown.name} ({unknown.kind})"
    return _mark(session, actor, source, "shadow_it_unknown", unknown, label, status)


def _mark(session: Session, actor: Actor, source: str, kind: str, row, label: str, status: str):
    """Sets the status of a finding or an unknown name, recorded in the history."""
    _check_choice("status", status, FindingStatus)
    if not status:
        raise Invalid("status is required", [{"pointer": "/status", "message": "required"}])
    before = {"status": row.status.value}
    row.status = FindingStatus(status)
    after = {"status": row.status.value}
    record_change(session, actor, source, kind, row.id, label, "updated", before, after)
    return row


def unknown_as_dict(row: UnknownName) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "hits": row.hits,
        "first_seen": row.first_seen.isoformat(),
        "last_seen": row.last_seen.isoformat(),
        "status": row.status.value,
    }


def money(spend: dict) -> dict[str, str]:
    """Minor units by currency, as decimal strings: ``{"EUR": "1234.50"}``."""
    return {currency: str(Decimal(amount).scaleb(-2)) for currency, amount in sorted(spend.items())}


def finding_as_dict(finding: Finding) -> dict:
    vendor = VendorIndex.default().vendors.get(finding.vendor_slug)
    return {
        "id": finding.id,
        "vendor": {
            "slug": finding.vendor_slug,
            "name": finding.vendor_name,
            "category": vendor.category if vendor else None,
        },
        "department": finding.department or None,
        "state": finding.state.value,
        "status": finding.status.value,
        "first_seen": finding.first_seen.isoformat(),
        "last_seen": finding.last_seen.isoformat(),
        "requests": finding.requests,
        "bytes": finding.volume,
        "spend": money(finding.spend),
        "distinct_sources": len(finding.sources),
        "distinct_users": len(finding.users),
        "sources": list(finding.sources),
        "users": list(finding.users),
        "distinct_capped": max(len(finding.sources), len(finding.users)) >= DISTINCT_CAP,
        "kinds": list(finding.kinds),
        "tool": finding.tool_slug,
        "request_id": finding.request_id,
    }


def export_findings(findings: Iterable[Finding], file_format: str) -> Iterator[str]:
    if file_format not in EXPORT_FORMATS:
        raise Invalid(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    if file_format == "json":
        yield from _json_array(findings)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for finding in findings:
        writer.writerow([_inert(value) for value in _csv_row(finding_as_dict(finding))])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json_array(findings: Iterable[Finding]) -> Iterator[str]:
    yield "["
    for position, finding in enumerate(findings):
        yield ("," if position else "") + "\n" + json.dumps(finding_as_dict(finding))
    yield "\n]\n"


def _csv_row(item: dict) -> list:
    return [
        item["id"],
        item["vendor"]["slug"],
        item["vendor"]["name"],
        item["vendor"]["category"] or "",
        item["department"] or "",
        item["state"],
        item["status"],
        item["first_seen"],
        item["last_seen"],
        item["requests"],
        item["bytes"],
        " ".join(f"{amount} {currency}" for currency, amount in item["spend"].items()),
        item["distinct_sources"],
        item["distinct_users"],
        " ".join(item["kinds"]),
        item["tool"] or "",
        item["request_id"] or "",
    ]


def _inert(value):
    """A cell a spreadsheet would run as a formula is written as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def request_prefill(finding: Finding) -> dict[str, str | list[str]]:
    """What the request form starts with when IT turns a finding into a request."""
    vendor = VendorIndex.default().vendors.get(finding.vendor_slug)
    prefill: dict[str, str | list[str]] = {"vendor_name": finding.vendor_name}
    if vendor is not None:
        if vendor.web_domains:
            prefill["website"] = f"https://{vendor.web_domains[0]}"
        prefill["category"] = vendor.category if vendor.category in CATEGORIES else "other"
        prefill["data_categories"] = list(vendor.data_categories)
        if vendor.connector:
            prefill["connector"] = vendor.connector
    if finding.department:
        prefill["departments"] = [finding.department]
    prefill["justification"] = (
        f"Already in use: shadow-IT finding #{finding.id} saw {finding.requests} "
        f"{'payments' if finding.kinds == ['merchant'] else 'requests'} from "
        f"{finding.department or 'an unknown department'} between "
        f"{finding.first_seen:%Y-%m-%d} and {finding.last_seen:%Y-%m-%d}."
    )
    return prefill

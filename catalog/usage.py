"""Usage reports: calls, decisions, people, categories, refusals, vendor errors, latency
and bytes per tool, department, app or day over any range of days.

A report reads only the daily aggregates (``catalog.usage_models``), so a month costs
the same whether the log holds a thousand records or a billion; the caller refreshes
them first (``gateway.audit.usage_refresh``). Days are UTC days, both ends included.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from pyroaring import BitMap
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.errors import Invalid
from catalog.usage_models import (
    LATENCY_BOUNDS_MS,
    UsageCategory,
    UsageDaily,
    UsageLatency,
    UsagePeople,
    UsageRefusal,
)

PERMISSION = "usage:read"
GROUPINGS = ("tool", "department", "app", "day")
DEFAULT_DAYS = 30
#: The longest range a report covers (ten years).
MAX_DAYS = 3660
TOP_REFUSALS = 5
_SUMMED = (
    "calls",
    "allowed",
    "redacted",
    "denied",
    "completed",
    "records_sent",
    "vendor_errors",
    "bytes_in",
    "bytes_out",
)


@dataclass(frozen=True)
class UsageQuery:
    since: date
    until: date
    by: str = "tool"
    tool: str | None = None
    department: str | None = None
    app: str | None = None


def usage_query(
    since: date | None,
    until: date | None,
    by: str | None = None,
    today: date | None = None,
    **only: str | None,
) -> UsageQuery:
    """The query with its defaults (the 30 days up to today), or :class:`Invalid`."""
    until = until or today or date.today()
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    errors = []
    if since > until:
        errors.append({"pointer": "/since", "message": "must not be after until"})
    elif (until - since).days >= MAX_DAYS:
        errors.append({"pointer": "/since", "message": f"at most {MAX_DAYS} days before until"})
    if (by or "tool") not in GROUPINGS:
        errors.append({"pointer": "/by", "message": f"must be one of {', '.join(GROUPINGS)}"})
    if errors:
        raise Invalid("no such usage report", errors)
    return UsageQuery(since, until, by or "tool", **{k: v for k, v in only.items() if v})


@dataclass
class UsageRow:
    """The figures of one tool, department, app or day (``key``; None: not known, as
    for a call refused before its app or tool was known)."""

    key: str | None
    calls: int = 0
    allowed: int = 0
    redacted: int = 0
    denied: int = 0
    completed: int = 0
    records_sent: int = 0
    vendor_errors: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    people: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    latency: Counter = field(default_factory=Counter)

    @property
    def pending(self) -> int:
        return self.calls - self.completed

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latency, 50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latency, 95)

    @property
    def top_refusals(self) -> list[tuple[str, int]]:
        return sorted(self.refusals.items(), key=lambda item: (-item[1], item[0]))[:TOP_REFUSALS]

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            **{name: getattr(self, name) for name in _SUMMED},
            "pending": self.pending,
            "people": self.people,
            "categories": dict(sorted(self.categories.items())),
            "top_refusals": [{"rule": rule, "calls": n} for rule, n in self.top_refusals],
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
        }


@dataclass
class UsageReport:
    query: UsageQuery
    rows: list[UsageRow]
    total: UsageRow

    def as_dict(self) -> dict:
        return {
            "since": self.query.since.isoformat(),
            "until": self.query.until.isoformat(),
            "by": self.query.by,
            "rows": [row.as_dict() for row in self.rows],
            "total": self.total.as_dict(),
        }


def percentile(histogram: Counter, p: float) -> float | None:
    """The upper bound of the bucket holding the nearest-rank ``p``th percentile (the
    last bound for the open-ended bucket); None without any call."""
    count = sum(histogram.values())
    if not count:
        return None
    rank, seen = math.ceil(p / 100 * count), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return float(LATENCY_BOUNDS_MS[min(bucket, len(LATENCY_BOUNDS_MS) - 1)])
    raise AssertionError("unreachable")


def usage_report(session: Session, query: UsageQuery) -> UsageReport:
    """The report, one row per key with any call in the range, busiest first (by day:
    in order of days)."""
    rows: dict[str | None, UsageRow] = {}
    total = UsageRow("total")

    def row(key) -> UsageRow:
        shown = _shown(key)
        if shown not in rows:
            rows[shown] = UsageRow(shown)
        return rows[shown]

    for found in _sums(session, query):
        target = row(found[0])
        for name, value in zip(_SUMMED, found[1:], strict=True):
            setattr(target, name, int(value or 0))
            setattr(total, name, getattr(total, name) + int(value or 0))
    for key, bucket, calls in _split(session, query, UsageLatency, UsageLatency.bucket):
        row(key).latency[bucket] += int(calls)
        total.latency[bucket] += int(calls)
    for key, category, calls in _split(session, query, UsageCategory, UsageCategory.category):
        row(key).categories[category] = int(calls)
        total.categories[category] = total.categories.get(category, 0) + int(calls)
    for key, rule, calls in _split(session, query, UsageRefusal, UsageRefusal.rule):
        row(key).refusals[rule] = int(calls)
        total.refusals[rule] = total.refusals.get(rule, 0) + int(calls)
    groups = _people(session, query)
    for key, people in groups.items():
        row(key).people = len(people)
    total.people = len(BitMap.union(BitMap(), *groups.values()))
    return UsageReport(query, _ordered(list(rows.values()), query.by), total)


def _shown(key) -> str | None:
    if isinstance(key, date):
        return key.isoformat()
    return key or None


def _ordered(rows: list[UsageRow], by: str) -> list[UsageRow]:
    if by == "day":
        return sorted(rows, key=lambda row: row.key)
    return sorted(rows, key=lambda row: (-row.calls, row.key or ""))


def _where(model, query: UsageQuery) -> list:
    conditions = [model.day >= query.since, model.day <= query.until]
    for name in ("tool", "department", "app"):
        if getattr(query, name):
            conditions.append(getattr(model, name) == getattr(query, name))
    return conditions


def _sums(session: Session, query: UsageQuery):
    key = getattr(UsageDaily, query.by)
    sums = (func.sum(getattr(UsageDaily, name)) for name in _SUMMED)
    statement = select(key, *sums).where(*_where(UsageDaily, query)).group_by(key)
    return session.execute(statement).all()


def _people(session: Session, query: UsageQuery) -> dict:
    """The people sent, per key: the union of the key's bitmaps in the range."""
    key = getattr(UsagePeople, query.by)
    bitmaps: dict = {}
    found = session.execute(select(key, UsagePeople.people).where(*_where(UsagePeople, query)))
    for value, blob in found:
        bitmaps.setdefault(value, []).append(BitMap.deserialize(blob))
    return {value: BitMap.union(*some) for value, some in bitmaps.items()}


def people_count(session: Session, since: date, until: date, **only: str) -> int:
    """Distinct people sent over a range of days, by the tool, department or app
    ``only`` names (in all without any)."""
    query = UsageQuery(since, until, **only)
    return len(BitMap.union(BitMap(), *_people(session, query).values()))


def _split(session: Session, query: UsageQuery, model, extra):
    """Calls per key and per ``extra`` (a latency bucket, a category, a rule)."""
    key = getattr(model, query.by)
    statement = select(key, extra, func.sum(model.calls)).where(*_where(model, query))
    return session.execute(statement.group_by(key, extra)).all()


def calls_per_day(session: Session, query: UsageQuery) -> dict[str, list[int]]:
    """Calls per tool on each day of the range (a list per tool, one count a day, in
    order of days): the series of the dashboard's "calls over time" chart."""
    days = (query.until - query.since).days + 1
    statement = (
        select(UsageDaily.tool, UsageDaily.day, func.sum(UsageDaily.calls))
        .where(*_where(UsageDaily, query))
        .group_by(UsageDaily.tool, UsageDaily.day)
    )
    series: dict[str, list[int]] = {}
    for tool, day, calls in session.execute(statement):
        series.setdefault(tool or "(unknown)", [0] * days)[(day - query.since).days] = int(calls)
    return dict(sorted(series.items()))

"""Housekeeping lists for IT: what the catalog promises set against what is used.

Approved tools nobody called lately (candidates to retire), grants never used, apps
silent for a while, tools past or near their re-review date, grants about to expire,
and the seats and contract volume declared per tool against actual use. Use comes from
the daily usage aggregates (``catalog.usage_models``), refreshed by the caller first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, joinedload

from catalog.errors import Invalid
from catalog.models import Grant, Tool, ToolStatus
from catalog.usage import people_count
from catalog.usage_models import UsageDaily

DEFAULT_DAYS = 30
#: A contract's use is measured over the last this many days (a month).
CONTRACT_DAYS = 30
_FORWARDED = UsageDaily.allowed + UsageDaily.redacted


@dataclass(frozen=True)
class AppRef:
    """An active app, as the caller found it (apps are not the catalog's)."""

    client_id: str
    name: str
    department: str
    created_at: datetime


@dataclass(frozen=True)
class Idle:
    """A tool, grant or app and the last day it was used (None: never)."""

    label: str
    department: str | None
    last_used: date | None

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "department": self.department,
            "last_used": self.last_used.isoformat() if self.last_used else None,
        }


@dataclass(frozen=True)
class Due:
    """A tool's re-review or a grant's expiry, and how many days are left (< 0: past)."""

    label: str
    department: str | None
    due: date
    days_left: int

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "department": self.department,
            "due": self.due.isoformat(),
            "days_left": self.days_left,
        }


@dataclass(frozen=True)
class ContractUse:
    """Seats and volume declared for a tool against the last month's use."""

    tool: str
    seats: int | None
    active_apps: int
    contract_volume: int | None
    people_sent: int
    records_sent: int

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class Housekeeping:
    today: date
    days: int
    unused_tools: list[Idle] = field(default_factory=list)
    unused_grants: list[Idle] = field(default_factory=list)
    silent_apps: list[Idle] = field(default_factory=list)
    reviews_due: list[Due] = field(default_factory=list)
    expiring_grants: list[Due] = field(default_factory=list)
    contracts: list[ContractUse] = field(default_factory=list)

    def as_dict(self) -> dict:
        lists = ("unused_tools", "unused_grants", "silent_apps", "reviews_due")
        lists += ("expiring_grants", "contracts")
        return {
            "today": self.today.isoformat(),
            "days": self.days,
            **{name: [item.as_dict() for item in getattr(self, name)] for name in lists},
        }


def housekeeping(
    session: Session, apps: Iterable[AppRef], today: date, days: int = DEFAULT_DAYS
) -> Housekeeping:
    """The lists as of ``today``: idle means no forwarded call in the last ``days`` days
    (today included); due means within the next ``days`` days, or past."""
    if not 1 <= days <= 3660:
        raise Invalid("no such list", [{"pointer": "/days", "message": "must be 1 to 3660"}])
    since = today - timedelta(days=days - 1)
    grants = session.scalars(
        select(Grant).options(joinedload(Grant.tool), joinedload(Grant.department))
    ).all()
    return Housekeeping(
        today=today,
        days=days,
        unused_tools=_unused_tools(session, since),
        unused_grants=_unused_grants(session, grants),
        silent_apps=_silent_apps(session, apps, since),
        reviews_due=_reviews_due(session, today, days),
        expiring_grants=_expiring_grants(grants, today, days),
        contracts=_contracts(session, today),
    )


def _last_use(session: Session, *group) -> dict[tuple, date]:
    """The last day with a forwarded call, per ``group`` (columns of UsageDaily)."""
    statement = select(*group, func.max(UsageDaily.day)).where(_FORWARDED > 0).group_by(*group)
    return {tuple(row[:-1]): row[-1] for row in session.execute(statement)}


def _unused_tools(session: Session, since: date) -> list[Idle]:
    last = _last_use(session, UsageDaily.tool)
    tools = session.scalars(
        select(Tool).where(Tool.status == ToolStatus.APPROVED).order_by(Tool.slug)
    )
    return [
        Idle(tool.slug, None, last.get((tool.slug,)))
        for tool in tools
        if (last.get((tool.slug,)) or date.min) < since
    ]


def _unused_grants(session: Session, grants: list[Grant]) -> list[Idle]:
    last = _last_use(session, UsageDaily.tool, UsageDaily.department)
    return sorted(
        (
            Idle(grant.tool.slug, grant.department.slug, None)
            for grant in grants
            if (grant.tool.slug, grant.department.slug) not in last
        ),
        key=lambda idle: (idle.label, idle.department),
    )


def _silent_apps(session: Session, apps: Iterable[AppRef], since: date) -> list[Idle]:
    statement = select(UsageDaily.app, func.max(UsageDaily.day)).group_by(UsageDaily.app)
    last = dict(session.execute(statement).all())
    return sorted(
        (
            Idle(app.name, app.department, last.get(app.client_id))
            for app in apps
            if (last.get(app.client_id) or app.created_at.date()) < since
        ),
        key=lambda idle: (idle.last_used or date.min, idle.label),
    )


def _reviews_due(session: Session, today: date, days: int) -> list[Due]:
    horizon = today + timedelta(days=days)
    tools = session.scalars(
        select(Tool)
        .where(Tool.status.in_((ToolStatus.APPROVED, ToolStatus.SUSPENDED)))
        .where(Tool.review_due <= horizon)
        .order_by(Tool.review_due, Tool.slug)
    )
    return [Due(tool.slug, None, tool.review_due, (tool.review_due - today).days) for tool in tools]


def _expiring_grants(grants: list[Grant], today: date, days: int) -> list[Due]:
    horizon = today + timedelta(days=days)
    return sorted(
        (
            Due(grant.tool.slug, grant.department.slug, grant.expires, (grant.expires - today).days)
            for grant in grants
            if grant.expires is not None and grant.expires <= horizon
        ),
        key=lambda due: (due.due, due.label, due.department),
    )


def _contracts(session: Session, today: date) -> list[ContractUse]:
    since = today - timedelta(days=CONTRACT_DAYS - 1)
    tools = session.scalars(
        select(Tool)
        .where((Tool.seats.is_not(None)) | (Tool.contract_volume.is_not(None)))
        .order_by(Tool.slug)
    ).all()
    return [_contract_use(session, tool, since, today) for tool in tools]


def _contract_use(session: Session, tool: Tool, since: date, today: date) -> ContractUse:
    daily = [UsageDaily.tool == tool.slug, UsageDaily.day >= since, UsageDaily.day <= today]
    apps, records = session.execute(
        select(
            func.count(distinct(UsageDaily.app)).filter(_FORWARDED > 0),
            func.coalesce(func.sum(UsageDaily.records_sent), 0),
        ).where(*daily)
    ).one()
    people = people_count(session, since, today, tool=tool.slug)
    return ContractUse(tool.slug, tool.seats, apps, tool.contract_volume, people, int(records))

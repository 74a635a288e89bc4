"""The record of processing activities (GDPR Art. 30), one activity per tool.

What IT declared in the catalog (purposes and data categories granted, to which
departments, data subjects, country, transfer basis, retention) beside what the
exchange log shows was actually sent in the period, and anything sent that the
declaration does not cover.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Text, cast, distinct, func, select
from sqlalchemy.orm import Session, joinedload

from catalog.models import Grant, Tool, ToolStatus
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from policies.taxonomy import covered_by_any

#: Decisions under which data left the gateway.
SENT = ("allow", "redact")
#: The record covers this much traffic unless asked otherwise.
DEFAULT_PERIOD = timedelta(days=365)


@dataclass
class Traffic:
    exchanges: int = 0
    people: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    departments: set[str] = field(default_factory=set)
    purposes: set[str] = field(default_factory=set)
    data_categories: set[str] = field(default_factory=set)

    def add(self, department, purpose, categories, count, first_at, last_at) -> None:
        self.exchanges += count
        self.first_at = min(filter(None, (self.first_at, first_at)))
        self.last_at = max(filter(None, (self.last_at, last_at)))
        self.departments.update(filter(None, [department]))
        self.purposes.update(filter(None, [purpose]))
        self.data_categories.update(categories)

    def as_dict(self) -> dict:
        return {
            "exchanges": self.exchanges,
            "people": self.people,
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "departments": sorted(self.departments),
            "purposes": sorted(self.purposes),
            "data_categories": sorted(self.data_categories),
        }


@dataclass
class Activity:
    tool: str
    name: str
    status: str
    connector: str
    country: str | None
    transfer_basis: str | None
    retention: str | None
    data_subjects: list[str]
    departments: list[str]
    purposes: list[str]
    data_categories: list[str]
    seen: Traffic = field(default_factory=Traffic)

    def undeclared(self) -> dict:
        """What was sent that no grant of the tool covers."""
        return {
            "purposes": sorted(
                p for p in self.seen.purposes if not covered_by_any(p, self.purposes)
            ),
            "data_categories": sorted(
                c for c in self.seen.data_categories if not covered_by_any(c, self.data_categories)
            ),
        }

    def as_dict(self) -> dict:
        declared = {name: value for name, value in vars(self).items() if name != "seen"}
        return {**declared, "seen": self.seen.as_dict(), "undeclared": self.undeclared()}


def processing_record(session: Session, since: datetime) -> list[Activity]:
    """Every approved tool, and every other tool that received data since ``since``."""
    grants: dict[int, list[Grant]] = {}
    for grant in session.scalars(select(Grant).options(joinedload(Grant.department))):
        grants.setdefault(grant.tool_id, []).append(grant)
    activities = {
        tool.slug: _declared(tool, grants.get(tool.id, []))
        for tool in session.scalars(select(Tool).order_by(Tool.slug))
    }
    for row in _traffic(session, since):
        tool, department, purpose, categories, stripped, count, first_at, last_at = row
        if tool in activities:
            sent = set(json.loads(categories)) - set(json.loads(stripped))
            activities[tool].seen.add(department, purpose, sent, count, first_at, last_at)
    for tool, people in _people(session, since):
        if tool in activities:
            activities[tool].seen.people = people
    return [
        activity
        for activity in activities.values()
        if activity.status == ToolStatus.APPROVED.value or activity.seen.exchanges
    ]


def _declared(tool: Tool, grants: list[Grant]) -> Activity:
    return Activity(
        tool=tool.slug,
        name=tool.name,
        status=tool.status.value,
        connector=tool.connector,
        country=tool.country,
        transfer_basis=tool.transfer_basis.value if tool.transfer_basis else None,
        retention=tool.retention,
        data_subjects=list(tool.data_subjects or []),
        departments=sorted(grant.department.slug for grant in grants),
        purposes=sorted({p for grant in grants for p in grant.purposes}),
        data_categories=sorted({c for grant in grants for c in grant.data_categories}),
    )


def _traffic(session: Session, since: datetime):
    record = ExchangeRecord
    categories, stripped = (
        cast(record.data_categories, Text),
        cast(record.categories_stripped, Text),
    )
    return session.execute(
        select(
            record.tool,
            record.department,
            record.purpose,
            categories,
            stripped,
            func.count(),
            func.min(record.started_at),
            func.max(record.started_at),
        )
        .where(record.started_at >= since, record.decision.in_(SENT))
        .group_by(record.tool, record.department, record.purpose, categories, stripped)
    )


def _people(session: Session, since: datetime):
    """How many distinct people each tool received data about."""
    record = ExchangeRecord
    return session.execute(
        select(record.tool, func.count(distinct(ExchangeSubject.subject_key)))
        .join(ExchangeSubject, ExchangeSubject.exchange_seq == record.seq)
        .where(
            record.started_at >= since,
            record.decision.in_(SENT),
            ExchangeSubject.dropped.is_(False),
        )
        .group_by(record.tool)
    )

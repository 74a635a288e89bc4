"""The withdrawal check: was anyone's data sent after they withdrew consent for that purpose?

For every person with a withdrawal in the consent registry, each exchange that sent
their data is judged by the consent state at the moment it was sent, for its purpose or
the nearest parent purpose with a state (as the policy engine does). The answer must be
zero; the report says how many people and exchanges it checked to prove it. A
violation can also reveal a withdrawal that reached the registry late: both the time
the person withdrew and the time it was recorded are shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.audit.processing import SENT
from policies.consent import ConsentEvent, ConsentStatus
from policies.taxonomy import lineage

BATCH = 500


@dataclass(frozen=True)
class Violation:
    seq: int
    request_id: str
    at: datetime
    tool: str | None
    purpose: str | None
    subject_key: str
    withdrawal_event_id: int
    withdrawn_at: datetime
    withdrawal_recorded_at: datetime

    def as_dict(self) -> dict:
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in vars(self).items()
        }


@dataclass
class WithdrawalCheck:
    since: datetime | None
    people_with_withdrawals: int = 0
    exchanges_checked: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {
            "since": self.since.isoformat() if self.since else None,
            "people_with_withdrawals": self.people_with_withdrawals,
            "exchanges_checked": self.exchanges_checked,
            "violations": [violation.as_dict() for violation in self.violations],
        }


def check_withdrawals(session: Session, since: datetime | None = None) -> WithdrawalCheck:
    check = WithdrawalCheck(since)
    withdrawn = session.scalars(
        select(ConsentEvent.subject_key)
        .where(ConsentEvent.status == ConsentStatus.WITHDRAWN)
        .distinct()
        .order_by(ConsentEvent.subject_key)
    )
    for keys in _batches(iter(withdrawn)):
        check.people_with_withdrawals += len(keys)
        timelines = _timelines(session, keys)
        for key, record in _sent_exchanges(session, keys, since):
            check.exchanges_checked += 1
            event = _state_at(timelines.get(key, {}), record.purpose, record.started_at)
            if event is not None and event.status is ConsentStatus.WITHDRAWN:
                check.violations.append(_violation(key, record, event))
    return check


def _batches(keys: Iterator[str]) -> Iterator[list[str]]:
    while batch := list(islice(keys, BATCH)):
        yield batch


def _timelines(session: Session, keys: list[str]) -> dict[str, dict[str, list[ConsentEvent]]]:
    """Each person's events per purpose, in the order they happened."""
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subject_key.in_(keys))
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    )
    timelines: dict[str, dict[str, list[ConsentEvent]]] = {}
    for event in events:
        timelines.setdefault(event.subject_key, {}).setdefault(event.purpose, []).append(event)
    return timelines


def _sent_exchanges(session: Session, keys: list[str], since: datetime | None):
    query = (
        select(ExchangeSubject.subject_key, ExchangeRecord)
        .join(ExchangeRecord, ExchangeRecord.seq == ExchangeSubject.exchange_seq)
        .where(
            ExchangeSubject.subject_key.in_(keys),
            ExchangeSubject.dropped.is_(False),
            ExchangeRecord.decision.in_(SENT),
        )
        .order_by(ExchangeRecord.seq)
    )
    if since is not None:
        query = query.where(ExchangeRecord.started_at >= since)
    return session.execute(query)


def _state_at(
    by_purpose: dict[str, list[ConsentEvent]], purpose: str | None, moment: datetime
) -> ConsentEvent | None:
    """The event in force at ``moment`` for the purpose or its nearest parent with one."""
    for candidate in lineage(purpose or ""):
        earlier = [event for event in by_purpose.get(candidate, ()) if event.occurred_at <= moment]
        if earlier:
            return earlier[-1]
    return None


def _violation(key: str, record: ExchangeRecord, event: ConsentEvent) -> Violation:
    return Violation(
        seq=record.seq,
        request_id=record.request_id,
        at=record.started_at,
        tool=record.tool,
        purpose=record.purpose,
        subject_key=key,
        withdrawal_event_id=event.id,
        withdrawn_at=event.occurred_at,
        withdrawal_recorded_at=event.recorded_at,
    )

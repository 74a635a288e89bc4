"""The person report (GDPR Art. 15(1)(c)): which tools received this person's data.

For one data subject (given by identifier, looked up by keyed hash) it lists every
exchange that named them, whether their data actually left (sent, possibly sent, or
not: refused, dropped from a batch, vendor unreachable), and per receiving tool when,
which data categories, for which purposes and under which of their consent events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.models import ExchangeRecord, ExchangeSubject, Outcome
from policies.consent import ConsentEvent

RECEIVED, POSSIBLY_RECEIVED, NOT_SENT = "received", "possibly_received", "not_sent"


@dataclass(frozen=True)
class Disclosure:
    """One exchange that named the person."""

    seq: int
    request_id: str
    at: datetime
    tool: str | None
    operation: str | None
    purpose: str | None
    #: What was sent: the categories found, less those policy stripped.
    data_categories: list[str]
    decision: str
    #: Policy removed the person from the batch: nothing of theirs was sent.
    dropped: bool
    delivery: str
    #: The person's own consent events the decision relied on.
    consent_event_ids: list[int]


@dataclass
class Recipient:
    """A tool that received (or may have received) the person's data."""

    tool: str
    country: str | None
    transfer_basis: str | None
    first_at: datetime
    last_at: datetime
    exchanges: int = 0
    data_categories: set[str] = field(default_factory=set)
    purposes: set[str] = field(default_factory=set)
    consent_event_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "tool": self.tool,
            "country": self.country,
            "transfer_basis": self.transfer_basis,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "exchanges": self.exchanges,
            "data_categories": sorted(self.data_categories),
            "purposes": sorted(self.purposes),
            "consent_event_ids": sorted(self.consent_event_ids),
        }


@dataclass(frozen=True)
class PersonReport:
    subject_key: str
    recipients: list[Recipient]
    exchanges: list[Disclosure]

    def as_dict(self) -> dict:
        return {
            "subject_key": self.subject_key,
            "recipients": [recipient.as_dict() for recipient in self.recipients],
            "exchanges": [
                {**vars(disclosure), "at": disclosure.at.isoformat()}
                for disclosure in self.exchanges
            ],
        }


def person_report(session: Session, subject_key: str) -> PersonReport:
    own_events = set(
        session.scalars(select(ConsentEvent.id).where(ConsentEvent.subject_key == subject_key))
    )
    rows = session.execute(
        select(ExchangeRecord, ExchangeSubject.dropped)
        .join(ExchangeSubject, ExchangeSubject.exchange_seq == ExchangeRecord.seq)
        .where(ExchangeSubject.subject_key == subject_key)
        .order_by(ExchangeRecord.seq)
    )
    disclosures, recipients = [], {}
    for record, dropped in rows:
        disclosure = _disclosure(record, dropped, own_events)
        disclosures.append(disclosure)
        if disclosure.delivery != NOT_SENT:
            _add_to_recipient(recipients, record, disclosure)
    return PersonReport(subject_key, list(recipients.values()), disclosures)


def _disclosure(record: ExchangeRecord, dropped: bool, own_events: set[int]) -> Disclosure:
    return Disclosure(
        seq=record.seq,
        request_id=record.request_id,
        at=record.started_at,
        tool=record.tool,
        operation=record.operation,
        purpose=record.purpose,
        data_categories=sent_categories(record),
        decision=record.decision,
        dropped=dropped,
        delivery=_delivery(record, dropped),
        consent_event_ids=sorted(own_events.intersection(record.consent_event_ids)),
    )


def sent_categories(record: ExchangeRecord) -> list[str]:
    """The data categories the exchange carried, less those policy stripped."""
    return sorted(set(record.data_categories) - set(record.categories_stripped))


def _delivery(record: ExchangeRecord, dropped: bool) -> str:
    if dropped or record.decision == "deny":
        return NOT_SENT
    if record.upstream_status is not None:
        return RECEIVED
    if record.outcome is Outcome.PENDING or record.error == "upstream-timeout":
        return POSSIBLY_RECEIVED  # in flight when the gateway stopped, or no answer in time
    return NOT_SENT


def _add_to_recipient(recipients: dict, record: ExchangeRecord, disclosure: Disclosure) -> None:
    recipient = recipients.setdefault(
        record.tool,
        Recipient(
            record.tool, record.country, record.transfer_basis, record.started_at, record.started_at
        ),
    )
    recipient.last_at = record.started_at
    recipient.exchanges += 1
    recipient.data_categories.update(disclosure.data_categories)
    if record.purpose:
        recipient.purposes.add(record.purpose)
    recipient.consent_event_ids.update(disclosure.consent_event_ids)

"""One exchange record in full, for the auditor reading it: what was decided and why,
the consent events the decision relied on, what was sent and stripped, what happened,
and where the record sits in both hash chains."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.chain import FROM_GENESIS, ChainStart
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.audit.person import sent_categories
from gateway.audit.retention import latest_anchor
from gateway.db import BIGINT_RANGE
from policies.consent import ConsentEvent


@dataclass(frozen=True)
class ExchangeDetail:
    record: ExchangeRecord
    #: The categories that left the gateway: those found, less those stripped.
    sent: list[str]
    #: The consent events the record names, oldest first (any erased since are absent).
    consent_events: list[ConsentEvent]
    #: People the call named, and how many of them policy dropped from the batch.
    people: int
    dropped: int
    #: The stored hash each chain links this record to (the one before it).
    previous_record_hash: str
    previous_outcome_hash: str | None


def exchange_detail(session: Session, seq: int) -> ExchangeDetail | None:
    """The record ``seq`` in full; None when the log holds no such record."""
    if not 1 <= seq <= BIGINT_RANGE[1]:
        return None
    record = session.get(ExchangeRecord, seq)
    if record is None:
        return None
    dropped_flags = list(
        session.scalars(select(ExchangeSubject.dropped).where(ExchangeSubject.exchange_seq == seq))
    )
    start = _chain_start(session)
    return ExchangeDetail(
        record=record,
        sent=sent_categories(record),
        consent_events=_consent_events(session, record.consent_event_ids or []),
        people=len(dropped_flags),
        dropped=sum(dropped_flags),
        previous_record_hash=_hash_before(
            session, ExchangeRecord.seq, ExchangeRecord.record_hash, seq, start.record_hash
        ),
        previous_outcome_hash=None
        if record.outcome_seq is None
        else _hash_before(
            session,
            ExchangeRecord.outcome_seq,
            ExchangeRecord.outcome_hash,
            record.outcome_seq,
            start.outcome_hash,
        ),
    )


def _consent_events(session: Session, ids: list[int]) -> list[ConsentEvent]:
    if not ids:
        return []
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.id.in_(ids))
            .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
        )
    )


def _chain_start(session: Session) -> ChainStart:
    """Where the chains begin: the genesis, or the anchor retention pruning signed."""
    anchor = latest_anchor(session)
    if anchor is None:
        return FROM_GENESIS
    return ChainStart(anchor.seq, anchor.record_hash, anchor.outcome_seq, anchor.outcome_hash)


def _hash_before(session: Session, position, hash_column, at: int, start_hash: str) -> str:
    stored = session.scalar(
        select(hash_column).where(position < at).order_by(position.desc()).limit(1)
    )
    return stored if stored is not None else start_hash

"""Writing exchange records: committed before the vendor is called, completed after.

The log has its own short transactions, separate from the request's session, so that
a record is durable before anything leaves the gateway. When the database refuses a
write the caller gets :class:`AuditUnavailable` and must not forward (fail closed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.models import ExchangeRecord, ExchangeSubject, Outcome
from gateway.db import utcnow
from policies.decision import Decision

logger = logging.getLogger(__name__)


class AuditUnavailable(Exception):
    """The exchange could not be recorded; nothing may be forwarded."""


@dataclass
class ExchangeDraft:
    """The facts of one exchange, gathered while the proxy handles it."""

    request_id: str
    method: str
    path: str
    started_at: datetime = field(default_factory=utcnow)
    client_id: str | None = None
    department: str | None = None
    tool: str | None = None
    operation: str | None = None
    purpose: str | None = None
    data_categories: list[str] = field(default_factory=list)
    categories_stripped: list[str] = field(default_factory=list)
    subject_count: int = 0
    #: Keyed hashes of the subjects whose data is sent; stored beside the record.
    subject_keys: list[str] = field(default_factory=list)
    #: Keyed hashes of the subjects policy removed from the batch (nothing of theirs sent).
    dropped_subject_keys: list[str] = field(default_factory=list)
    consent_event_ids: list[int] = field(default_factory=list)
    country: str | None = None
    transfer_basis: str | None = None
    bytes_in: int = 0


@dataclass(frozen=True)
class Result:
    status: int
    latency_ms: float
    upstream_status: int | None = None
    upstream_latency_ms: float | None = None
    bytes_out: int | None = None
    error: str | None = None


class ExchangeLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def open(self, draft: ExchangeDraft, decision: Decision) -> int:
        """Durably record an exchange about to be forwarded; returns its sequence number."""
        return self._insert(draft, decision, Outcome.PENDING, None)

    def record_refused(self, draft: ExchangeDraft, decision: Decision, result: Result) -> int:
        """Record, in one write, an exchange the gateway answered itself."""
        return self._insert(draft, decision, Outcome.COMPLETED, result)

    def complete(self, seq: int, result: Result) -> None:
        """Add the outcome. A failure here is logged: the record stays pending."""
        try:
            with self._sessions.begin() as session:
                session.execute(
                    update(ExchangeRecord)
                    .where(ExchangeRecord.seq == seq, ExchangeRecord.outcome == Outcome.PENDING)
                    .values(outcome=Outcome.COMPLETED, completed_at=utcnow(), **vars(result))
                )
        except SQLAlchemyError:
            logger.exception("could not record the outcome of exchange %s", seq)

    def _insert(
        self, draft: ExchangeDraft, decision: Decision, outcome: Outcome, result: Result | None
    ) -> int:
        beside = {"subject_keys", "dropped_subject_keys"}
        facts = {name: value for name, value in vars(draft).items() if name not in beside}
        record = ExchangeRecord(
            **facts,
            decision=decision.verdict.value,
            reasons=[reason.as_dict() for reason in decision.reasons],
            policy_version=decision.policy_version,
            outcome=outcome,
        )
        if result is not None:
            record.completed_at = utcnow()
            for name, value in vars(result).items():
                setattr(record, name, value)
        try:
            with self._sessions.begin() as session:
                session.add(record)
                session.flush()
                dropped = set(draft.dropped_subject_keys)
                session.add_all(
                    ExchangeSubject(
                        exchange_seq=record.seq, subject_key=key, dropped=key in dropped
                    )
                    for key in sorted(set(draft.subject_keys) | dropped)
                )
                return record.seq
        except SQLAlchemyError as exc:
            logger.exception("could not record exchange %s", draft.request_id)
            raise AuditUnavailable from exc


def iter_records(session: Session, batch_size: int = 1000) -> Iterator[ExchangeRecord]:
    """Every record in sequence order, read in batches (for export and verification)."""
    last_seq = 0
    while True:
        batch = session.scalars(
            select(ExchangeRecord)
            .where(ExchangeRecord.seq > last_seq)
            .order_by(ExchangeRecord.seq)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        yield from batch
        last_seq = batch[-1].seq

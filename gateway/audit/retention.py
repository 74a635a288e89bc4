"""Retention: records past the retention period are pruned, and the log still verifies.

A prune removes a prefix of the log, records ``1..N`` and the outcomes ``1..M`` that
belong to them, choosing N so that the cut is clean (no remaining record's outcome
sits among the removed ones). Before deleting, it signs an *anchor*: a checkpoint of
both chains exactly at the cut. Verification then starts from the latest anchor
instead of the beginning, so everything kept is still proven, and a record removed
any other way is still reported missing.

The usage aggregates fold in the records first (their counts outlive the records);
the people they name for days before the cut are forgotten with them, and so is the
number of anyone sent on none of the days kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Text, delete, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.audit.checkpoints import Checkpoint, sign_checkpoint
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.audit.usage_refresh import purge_people_before, refresh_usage
from gateway.audit.writer import GENESIS
from gateway.db import Base, BigIntKey, UTCDateTime, utcnow
from gateway.vault import Vault


class RetentionAnchor(Base):
    """Where a prune cut the log: the signed heads of both chains at the cut."""

    __tablename__ = "audit_retention_anchors"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    pruned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    older_than: Mapped[datetime] = mapped_column(UTCDateTime)
    records_deleted: Mapped[int] = mapped_column(Integer)
    #: The signed checkpoint of the last record and outcome removed.
    document: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Cut:
    through_seq: int
    through_outcome_seq: int


def prune(session: Session, vault: Vault, older_than: datetime) -> RetentionAnchor | None:
    """Remove the records that started before ``older_than`` (as far as a clean cut
    allows); None when there is nothing to remove. The caller commits."""
    cut = clean_cut(session, older_than)
    if cut is None:
        return None
    anchor = sign_checkpoint(session, vault, *_heads_at(session, cut))
    refresh_usage(session)  # the usage counts outlive the records; who was sent does not
    purge_people_before(session, older_than.date())
    deleted = _delete_through(session, cut)
    row = RetentionAnchor(older_than=older_than, records_deleted=deleted, document=anchor.to_json())
    session.add(row)
    return row


def latest_anchor(session: Session) -> Checkpoint | None:
    document = session.scalar(select(RetentionAnchor.document).order_by(RetentionAnchor.id.desc()))
    return Checkpoint.from_json(document) if document else None


def clean_cut(session: Session, older_than: datetime) -> Cut | None:
    """The longest prefix of records that all started before ``older_than`` and whose
    outcomes are exactly the first ones of the outcome chain."""
    record = ExchangeRecord
    first_kept = session.scalar(select(func.min(record.seq)).where(record.started_at >= older_than))
    through = (first_kept or (session.scalar(select(func.max(record.seq))) or 0) + 1) - 1
    while through > 0:
        last_outcome = (
            session.scalar(select(func.max(record.outcome_seq)).where(record.seq <= through)) or 0
        )
        first_foreign = session.scalar(
            select(func.min(record.outcome_seq)).where(
                record.seq > through, record.outcome_seq <= last_outcome
            )
        )
        if first_foreign is None:
            return Cut(through, last_outcome)
        # A kept record completed before some removed ones: keep those too.
        through = (
            session.scalar(
                select(func.min(record.seq)).where(
                    record.seq <= through, record.outcome_seq > first_foreign
                )
            )
            - 1
        )
    return None


def _heads_at(session: Session, cut: Cut) -> tuple[int, str, int, str]:
    record = ExchangeRecord
    record_hash = session.scalar(select(record.record_hash).where(record.seq == cut.through_seq))
    outcome_hash = (
        session.scalar(
            select(record.outcome_hash).where(record.outcome_seq == cut.through_outcome_seq)
        )
        or GENESIS
    )
    return cut.through_seq, record_hash, cut.through_outcome_seq, outcome_hash


def _delete_through(session: Session, cut: Cut) -> int:
    if session.get_bind().dialect.name == "postgresql":  # the trigger lets only this through
        session.execute(text("SET LOCAL gatehouse.pruning = 'on'"))
    session.execute(delete(ExchangeSubject).where(ExchangeSubject.exchange_seq <= cut.through_seq))
    result = session.execute(delete(ExchangeRecord).where(ExchangeRecord.seq <= cut.through_seq))
    return result.rowcount

"""The exchange record: who sent what kind of data to which tool, and what happened.

It holds access facts and governance facts, never payloads, secrets or raw
identifiers. A record is written with its decision before anything is forwarded and
completed with the outcome afterwards; one left without outcome is visible as such.
Both steps extend a hash chain (see ``gateway.audit.chain``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, BigIntKey, UTCDateTime, enum_by_value


class Outcome(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


class ExchangeRecord(Base):
    __tablename__ = "exchanges"

    seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(32), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str | None] = mapped_column(String(64), index=True)
    operation: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    purpose: Mapped[str | None] = mapped_column(String(100))
    data_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories_stripped: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject_count: Mapped[int] = mapped_column(Integer, default=0)
    consent_event_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    country: Mapped[str | None] = mapped_column(String(2))
    transfer_basis: Mapped[str | None] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list[dict]] = mapped_column(JSON, default=list)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[Outcome] = mapped_column(enum_by_value(Outcome))
    status: Mapped[int | None] = mapped_column(Integer)
    upstream_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[float | None]
    upstream_latency_ms: Mapped[float | None]
    bytes_in: Mapped[int] = mapped_column(Integer, default=0)
    bytes_out: Mapped[int | None] = mapped_column(Integer)
    #: Connection attempts repeated before the vendor answered (nothing had been sent).
    retries: Mapped[int | None] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The record chain: SHA-256 of the previous record_hash and this record's fields.
    record_hash: Mapped[str] = mapped_column(String(64))
    #: The outcome chain, in the order completions were written.
    outcome_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    outcome_hash: Mapped[str | None] = mapped_column(String(64))


class ExchangeSubject(Base):
    """One data subject (as a keyed hash) whose data an exchange carried.

    A table of its own, indexed by key, answers "which tools got this person's data"
    without scanning the log.
    """

    __tablename__ = "exchange_subjects"

    #: The exchange's seq. No foreign key: the writer inserts both in one statement,
    #: and the record hash covers the subject keys (migration 0006 says why).
    exchange_seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    #: True when policy removed this person from the batch: their data was not sent.
    dropped: Mapped[bool] = mapped_column(default=False)

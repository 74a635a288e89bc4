"""The exchange record: who sent what kind of data to which tool, and what happened.

It holds access facts and governance facts, never payloads, secrets or raw
identifiers. A record is written with its decision before anything is forwarded and
completed with the outcome afterwards; one left without outcome is visible as such.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Integer, String
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
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
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
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

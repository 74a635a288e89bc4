"""Daily usage aggregates: what the usage reports read instead of the exchange log.

One row per UTC day, tool, department and app (an unknown one stored as ``""``) in each
table; the counts are sums, so a range of days is the sum of its rows. Latency is kept
as a histogram (merged across days, percentiles read from the buckets); the people sent
are a compressed bitmap per row, merged across rows, so a range's distinct count is
exact. ``UsageWatermark`` says how far into the exchange log the aggregates reach
(``gateway.audit.usage_refresh`` folds in what is newer).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime

#: Upper bounds (ms) of the latency buckets; the last bucket has no bound.
LATENCY_BOUNDS_MS = (
    *(1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750),
    *(1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 30_000, 60_000),
)


def _primary_key(*more: str) -> PrimaryKeyConstraint:
    """Day first: a report reads a range of days."""
    return PrimaryKeyConstraint("day", "tool", "department", "app", *more)


class _Keyed:
    day: Mapped[date] = mapped_column(Date)
    tool: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    #: The app's client id.
    app: Mapped[str] = mapped_column(String(64))


class UsageDaily(_Keyed, Base):
    """Calls and their outcomes. Decision facts count records when they are written,
    outcome facts when they complete; ``calls - completed`` are still pending."""

    __tablename__ = "usage_daily"
    __table_args__ = (_primary_key(),)

    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    allowed: Mapped[int] = mapped_column(BigInteger, default=0)
    redacted: Mapped[int] = mapped_column(BigInteger, default=0)
    denied: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Data subjects in forwarded calls (after policy dropped any from a batch).
    records_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    completed: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Forwarded calls the vendor failed: no answer, or an answer of 500 or more.
    vendor_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageLatency(_Keyed, Base):
    """How many completed calls took at most ``LATENCY_BOUNDS_MS[bucket]`` (and more than
    the bound before); the bucket after the last bound holds the slower ones."""

    __tablename__ = "usage_latency"
    __table_args__ = (_primary_key("bucket"),)

    bucket: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageCategory(_Keyed, Base):
    """Forwarded calls that sent each data category."""

    __tablename__ = "usage_categories"
    __table_args__ = (_primary_key("category"),)

    category: Mapped[str] = mapped_column(String(100))
    calls: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageRefusal(_Keyed, Base):
    """Refused calls by the policy rule that refused them."""

    __tablename__ = "usage_refusals"
    __table_args__ = (_primary_key("rule"),)

    rule: Mapped[str] = mapped_column(String(100))
    calls: Mapped[int] = mapped_column(BigInteger, default=0)


class UsagePeople(_Keyed, Base):
    """The people whose data that day's forwarded calls sent: a compressed bitmap
    (pyroaring's ``BitMap``, serialized) of their ``UsagePersonId.id``. A range's
    distinct count is the size of the union of its bitmaps, exact and read in one pass
    over a row per key rather than a row per person. Personal data: retention deletes
    the bitmaps of the days it prunes."""

    __tablename__ = "usage_people_bitmaps"
    __table_args__ = (_primary_key(),)

    people: Mapped[bytes] = mapped_column(LargeBinary)


class UsagePersonId(Base):
    """A small number for each person sent, given on first sight, so the people of a day
    fit a compressed bitmap (which holds 32-bit numbers, the denser the smaller).

    It keeps ``person_number`` (bits of the keyed hash the log's subject keys already
    are, never the key or anything it came from), so it says no more about anyone than
    the log does, and for no longer: ``last_day`` is the last day the person is in a
    bitmap, and retention deletes the number once every such day is pruned (a person
    seen again later gets a new one)."""

    __tablename__ = "usage_person_ids"
    __table_args__ = (Index("ix_usage_person_ids_last_day", "last_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: See ``person_number``.
    person: Mapped[int] = mapped_column(BigInteger, unique=True)
    last_day: Mapped[date] = mapped_column(Date)


def person_number(subject_key: str) -> int:
    """The first 63 bits of a subject key (a hex HMAC-SHA256): distinct beyond doubt
    (even odds of two people sharing one need some three billion people), and half
    the size of the whole key as text."""
    return int(subject_key[:16], 16) >> 1


class UsageWatermark(Base):
    """The one row saying which records and completions the aggregates include."""

    __tablename__ = "usage_watermark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_outcome_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

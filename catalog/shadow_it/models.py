"""Shadow-IT tables: findings per vendor and department, unknown domains and merchants
seen often, and the logs already scanned (so a scan never counts a line twice)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base, UTCDateTime, enum_by_value, utcnow


class CatalogState(enum.StrEnum):
    """Where the vendor stands in the catalog, seen from the evidence."""

    NOT_IN_CATALOG = "not_in_catalog"
    REQUESTED = "requested"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    RETIRED = "retired"
    #: approved, but its API was called from an address that is not the gateway's
    BYPASSING = "bypassing"


class FindingStatus(enum.StrEnum):
    NEW = "new"
    KNOWN = "known"
    IGNORED = "ignored"


class Finding(Base):
    __tablename__ = "shadow_it_findings"
    __table_args__ = (UniqueConstraint("vendor_slug", "department"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_slug: Mapped[str] = mapped_column(String(64))
    vendor_name: Mapped[str] = mapped_column(String(200))
    #: the department the evidence points to; "" when neither map nor column told
    department: Mapped[str] = mapped_column(String(64))
    state: Mapped[CatalogState] = mapped_column(enum_by_value(CatalogState), index=True)
    status: Mapped[FindingStatus] = mapped_column(
        enum_by_value(FindingStatus), default=FindingStatus.NEW, index=True
    )
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    volume: Mapped[int] = mapped_column(BigInteger, default=0)
    #: currency → spend in minor units
    spend: Mapped[dict] = mapped_column(JSON, default=dict)
    #: distinct client addresses and users (each kept up to ``DISTINCT_CAP``)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    users: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: what was reached: web, app, api (hosts) or merchant (a payment)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the catalog tool or request the state comes from
    tool_slug: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UnknownName(Base):
    """A registrable domain (or a merchant name) no vendor claims, for IT to classify."""

    __tablename__ = "shadow_it_unknown"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``domain`` or ``merchant``
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(253))
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[FindingStatus] = mapped_column(
        enum_by_value(FindingStatus), default=FindingStatus.NEW
    )


class ScannedLog(Base):
    """A log read by a scan: recognised by its first 4 KiB, its first ``lines`` lines
    digested, so a re-scan (or a scan of the grown file) counts only what is new."""

    __tablename__ = "shadow_it_scanned_logs"
    __table_args__ = (Index("ix_shadow_it_scanned_logs_head", "head_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    head_digest: Mapped[str] = mapped_column(String(64))
    lines: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(500))
    first_event: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

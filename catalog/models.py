"""Catalog tables: departments, tools and the grants that let a department use a tool."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.db import Base, UTCDateTime, enum_by_value, utcnow


class ToolStatus(enum.StrEnum):
    REQUESTED = "requested"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class TransferBasis(enum.StrEnum):
    """The GDPR Chapter V ground for sending personal data outside the EEA."""

    ADEQUACY = "adequacy"
    DPF = "dpf"
    SCC = "scc"
    NONE = "none"


class GrantMode(enum.StrEnum):
    STRICT = "strict"
    REDACT = "redact"


class Department(Base):
    __tablename__ = "departments"
    __snapshot__ = "catalog"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Tool(Base):
    __tablename__ = "tools"
    __snapshot__ = "catalog"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    connector: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str | None] = mapped_column(String(500))
    #: IT lets this tool reach loopback and private addresses (a sandbox, an on-premises
    #: vendor); otherwise the gateway connects to public addresses only.
    allow_private_network: Mapped[bool] = mapped_column(default=False, server_default=false())
    status: Mapped[ToolStatus] = mapped_column(
        enum_by_value(ToolStatus), default=ToolStatus.REQUESTED
    )
    country: Mapped[str | None] = mapped_column(String(2))
    transfer_basis: Mapped[TransferBasis | None] = mapped_column(enum_by_value(TransferBasis))
    review_due: Mapped[date | None] = mapped_column(Date)
    #: The vendor's id in the IAB Global Vendor List, for TCF enforcement.
    iab_vendor_id: Mapped[int | None]
    #: fideslang data subjects (customer, prospect, ...), for the record of processing.
    data_subjects: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: How long the vendor keeps the data, as IT recorded it (free text).
    retention: Mapped[str | None] = mapped_column(String(200))
    #: Vendor credentials, encrypted by the vault; never returned by any API.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    #: Where each credential came from (``from-env:NAME``), so export can write it back.
    credential_sources: Mapped[dict] = mapped_column(JSON, default=dict)
    #: For the ``generic`` connector: the auth and operations IT declared for this tool.
    inline_spec: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Grant(Base):
    """Department may use tool for these purposes and data categories until expiry."""

    __tablename__ = "grants"
    __snapshot__ = "catalog"
    __table_args__ = (UniqueConstraint("department_id", "tool_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    tool_id: Mapped[int] = mapped_column(ForeignKey("tools.id", ondelete="CASCADE"))
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    data_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    mode: Mapped[GrantMode] = mapped_column(enum_by_value(GrantMode), default=GrantMode.STRICT)
    expires: Mapped[date | None] = mapped_column(Date)

    department: Mapped[Department] = relationship()
    tool: Mapped[Tool] = relationship()

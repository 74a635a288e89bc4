"""Catalog tables: departments, tools, the grants that let a department use a tool, and
the requests for new tools with their reviews and conversation."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
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
    #: What kind of tool it is (``email``, ``crm``, ``analytics``, ``ads``, ...), for the catalog.
    category: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
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
    #: Why the tool has its status (the reviewer's reason for a suspension, say).
    status_reason: Mapped[str | None] = mapped_column(Text)
    #: The vendor's id in the IAB Global Vendor List, for TCF enforcement.
    iab_vendor_id: Mapped[int | None]
    #: fideslang data subjects (customer, prospect, ...), for the record of processing.
    data_subjects: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: How long the vendor keeps the data, as IT recorded it (free text).
    retention: Mapped[str | None] = mapped_column(String(200))
    #: Seats (vendor logins) the contract pays for, to compare with the apps that call it.
    seats: Mapped[int | None]
    #: People per month the contract allows (contacts, profiles), to compare with use.
    contract_volume: Mapped[int | None]
    #: Vendor credentials, encrypted by the vault; never returned by any API.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    #: Where each credential came from (``from-env:NAME``), so export can write it back.
    credential_sources: Mapped[dict] = mapped_column(JSON, default=dict)
    #: For the ``generic`` connector: the auth and operations IT declared for this tool.
    inline_spec: Mapped[dict | None] = mapped_column(JSON)
    #: IT's limits on calls to the tool by all apps together (``100/minute``, ...).
    rate_limits: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The vendor's quota as its plan states it (``10/second``, ``500000/month``, ...).
    vendor_quota: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: When the store of the counters is unreachable: let calls go on, or refuse them.
    limits_on_store_outage: Mapped[str] = mapped_column(
        String(6), default="open", server_default="open"
    )
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
    #: Rate limits of each app (``per_app``) and of the department (``per_department``).
    limits: Mapped[dict] = mapped_column(JSON, default=dict)

    department: Mapped[Department] = relationship()
    tool: Mapped[Tool] = relationship()


class RequestStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


#: A request in one of these states waits for IT.
WAITING_FOR_IT = (RequestStatus.SUBMITTED, RequestStatus.UNDER_REVIEW)
DECIDED = (RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN)


class Urgency(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Outcome(enum.StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    NEEDS_INFO = "needs_info"
    REJECT = "reject"


tool_request_departments = Table(
    "tool_request_departments",
    Base.metadata,
    Column("request_id", ForeignKey("tool_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class ToolRequest(Base):
    """Marketing asks IT for a tool: what for, with which data, for which departments."""

    __tablename__ = "tool_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(40))
    #: A shipped connector that fits the vendor, if the requester or IT named one.
    connector: Mapped[str | None] = mapped_column(String(64))
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    data_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    justification: Mapped[str] = mapped_column(Text)
    expected_volume: Mapped[str | None] = mapped_column(String(200))
    urgency: Mapped[Urgency] = mapped_column(enum_by_value(Urgency), default=Urgency.NORMAL)
    desired_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[RequestStatus] = mapped_column(
        enum_by_value(RequestStatus), default=RequestStatus.SUBMITTED, index=True
    )
    #: Who asked: a user's id, or ``None`` when an app or an operator filed it.
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requester_label: Mapped[str] = mapped_column(String(320))
    outcome: Mapped[Outcome | None] = mapped_column(enum_by_value(Outcome))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The catalog tool the approval created or updated.
    tool_id: Mapped[int | None] = mapped_column(ForeignKey("tools.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the request entered its current status (its wait is counted from here).
    status_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    departments: Mapped[list[Department]] = relationship(
        secondary=tool_request_departments, order_by=Department.slug
    )
    tool: Mapped[Tool | None] = relationship()
    messages: Mapped[list[RequestMessage]] = relationship(
        back_populates="request", order_by="RequestMessage.id", cascade="all, delete-orphan"
    )
    review: Mapped[VendorReview | None] = relationship(
        back_populates="request", cascade="all, delete-orphan"
    )

    @property
    def department_slugs(self) -> list[str]:
        return [department.slug for department in self.departments]


class MessageKind(enum.StrEnum):
    QUESTION = "question"
    ANSWER = "answer"
    COMMENT = "comment"
    DECISION = "decision"


class RequestMessage(Base):
    """One turn of the conversation between requester and reviewer on a request."""

    __tablename__ = "tool_request_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("tool_requests.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[MessageKind] = mapped_column(enum_by_value(MessageKind))
    author_label: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[ToolRequest] = relationship(back_populates="messages")


class VendorReview(Base):
    """IT's vendor-risk checklist for a request; ``answers`` follows the checklist's schema
    (``catalog.checklist``): DPA, processing country and transfer basis, certifications,
    subprocessors, retention and deletion, SSO/MFA, security contact, notes, attachments."""

    __tablename__ = "vendor_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("tool_requests.id", ondelete="CASCADE"), unique=True
    )
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    request: Mapped[ToolRequest] = relationship(back_populates="review")

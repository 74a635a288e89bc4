"""The auditors' own trail: every search, report and export of the log, who asked and what.

Reading the exchange log is itself a processing of personal data (pseudonymous, but
linkable), so each query is recorded: the actor (an API client or the operating-system
user of the CLI), the kind of query, its parameters with any person only as the keyed
hash, how many records it returned and, for an export, the signed manifest of the file.
"""

from __future__ import annotations

import getpass
from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.db import Base, BigIntKey, UTCDateTime, utcnow

KINDS = (
    "search",
    "export",
    "person_report",
    "processing_record",
    "withdrawal_check",
    "prune",
    "verify",
)


class AuditQuery(Base):
    __tablename__ = "audit_queries"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    result_count: Mapped[int | None] = mapped_column(Integer)
    #: For an export: the signed manifest of the file that was written.
    manifest: Mapped[str | None] = mapped_column(Text)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "kind": self.kind,
            "parameters": self.parameters,
            "result_count": self.result_count,
            "has_manifest": self.manifest is not None,
        }


def record_query(
    session: Session, actor: str, kind: str, parameters: dict, result_count: int | None = None
) -> AuditQuery:
    """Add the query to the trail (the caller commits, with the answer)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of audit query {kind!r}")
    query = AuditQuery(actor=actor, kind=kind, parameters=parameters, result_count=result_count)
    session.add(query)
    session.flush()
    return query


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def api_actor(kind: str, actor_id: str, label: str) -> str:
    """``client:<client id> (<app name>)`` for an app, ``user:<id> (<e-mail>)`` for a person."""
    prefix = "client" if kind == "app" else kind
    return f"{prefix}:{actor_id} ({label})"


def recent_queries(
    session: Session, limit: int = 100, kind: str | None = None, before: int | None = None
) -> list[AuditQuery]:
    """The trail newest first; only queries of ``kind``, only those older than id ``before``."""
    statement = select(AuditQuery).order_by(AuditQuery.id.desc())
    if kind is not None:
        statement = statement.where(AuditQuery.kind == kind)
    if before is not None:
        statement = statement.where(AuditQuery.id < before)
    return list(session.scalars(statement.limit(limit)))

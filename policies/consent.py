"""The consent registry: append-only consent events and the current state derived from them.

Every event is kept (who, for which purpose, granted or withdrawn, on what basis, from
which source, with what evidence, when, until when). The current state per person and
purpose is maintained beside the events in the same transaction, always from the event
that happened last (by the time the person acted, not the time it was imported), and
indexed so that the states of all subjects of a request are one query.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ARRAY, JSON, String, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.db import Base, BigIntKey, Reads, UTCDateTime, enum_by_value, utcnow
from policies.facts import ConsentFact


class ConsentStatus(enum.StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class ConsentEvent(Base):
    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(100))
    status: Mapped[ConsentStatus] = mapped_column(enum_by_value(ConsentStatus))
    lawful_basis: Mapped[str] = mapped_column(String(30), default="consent")
    source: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentState(Base):
    """The latest event per (subject, purpose): what the proxy checks."""

    __tablename__ = "consent_states"

    subject_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[ConsentStatus] = mapped_column(enum_by_value(ConsentStatus))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_id: Mapped[int] = mapped_column(BigIntKey)


class ConsentImport(Base):
    """How far the import of one file (by content hash) got, committed with each batch."""

    __tablename__ = "consent_imports"

    source_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    lines_done: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class NewConsent:
    subject_key: str
    purpose: str
    status: ConsentStatus
    source: str
    occurred_at: datetime
    expires_at: datetime | None = None
    lawful_basis: str = "consent"
    evidence: Mapping | None = None


def record_consents(session: Session, consents: Iterable[NewConsent]) -> list[ConsentEvent]:
    """Append the events and bring the current states up to date (the caller commits)."""
    events = [
        ConsentEvent(
            subject_key=c.subject_key,
            purpose=c.purpose,
            status=c.status,
            lawful_basis=c.lawful_basis,
            source=c.source,
            evidence=dict(c.evidence or {}),
            occurred_at=c.occurred_at,
            expires_at=c.expires_at,
        )
        for c in consents
    ]
    session.add_all(events)
    session.flush()
    for event in events:
        _advance_state(session, event)
    return events


def _advance_state(session: Session, event: ConsentEvent) -> None:
    """Upsert the state, unless a later event (by occurrence) already set it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "subject_key": event.subject_key,
        "purpose": event.purpose,
        "status": event.status,
        "occurred_at": event.occurred_at,
        "expires_at": event.expires_at,
        "event_id": event.id,
    }
    statement = dialect.insert(ConsentState).values(**values)
    table = ConsentState.__table__
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.subject_key, table.c.purpose],
            set_={
                name: statement.excluded[name]
                for name in values
                if name not in ("subject_key", "purpose")
            },
            where=table.c.occurred_at <= statement.excluded.occurred_at,
        )
    )


_STATES = select(
    ConsentState.subject_key,
    ConsentState.purpose,
    ConsentState.status,
    ConsentState.expires_at,
    ConsentState.event_id,
)
#: Built once (each call only binds its keys): building the query, and its cache key,
#: took a third of the lookup's time in the gateway. On PostgreSQL one array parameter
#: (``= ANY``): 500 separate parameters cost more to build and parse than the index
#: lookup itself.
_STATES_OF = {
    "postgresql": _STATES.where(
        ConsentState.subject_key == any_(bindparam("keys", type_=ARRAY(String)))
    ),
    "sqlite": _STATES.where(ConsentState.subject_key.in_(bindparam("keys", expanding=True))),
}
#: The proxy's lookup on PostgreSQL, the same statement as psycopg receives it (see
#: :meth:`gateway.db.Reads.driver_rows`).
_STATES_SQL = str(_STATES_OF["postgresql"].compile(dialect=postgresql.psycopg.dialect()))


def consent_states(
    session: Session | Reads, keys: Iterable[str]
) -> dict[str, tuple[ConsentFact, ...]]:
    """The current states of these subjects, all purposes, in one indexed query (on the
    proxy's hot path, through :class:`~gateway.db.Reads`: one round trip)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    dialect = session.get_bind().dialect.name
    if isinstance(session, Reads) and dialect == "postgresql":
        rows = session.driver_rows(_STATES_SQL, {"keys": wanted})
    else:
        rows = session.execute(_STATES_OF[dialect], {"keys": wanted})
    states: dict[str, list[ConsentFact]] = {}
    for key, purpose, status, expires_at, event_id in rows:
        # PostgreSQL returns timestamptz zoned already: only the status is left a string.
        granted = status == ConsentStatus.GRANTED
        states.setdefault(key, []).append(ConsentFact(purpose, granted, expires_at, event_id))
    return {key: tuple(facts) for key, facts in states.items()}

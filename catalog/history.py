"""One append-only history of every change to the catalog, grants, apps, keys, users and
credentials, whoever made it and however (portal, API, ``gatehouse apply``, a command).

A service that changes an object calls :func:`record_change` in the same transaction,
with the object's state before and after as plain JSON; secrets are never part of that
state (a credential change records the names of the fields that changed, not values).
On PostgreSQL a trigger refuses updates and deletes of the table. Readers ask by object,
actor, type, action and time (:class:`HistoryFilter`), newest first, a page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Select, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog.cursors import BadCursor, make_cursor, read_cursor
from gateway.db import Base, BigIntKey, UTCDateTime, utcnow
from gateway.identity.actors import Actor


class ChangeEvent(Base):
    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[str] = mapped_column(String(320))
    actor_label: Mapped[str] = mapped_column(String(320))
    #: ``tool``, ``grant``, ``tool_request``, ``app``, ``api_key``, ``user``, ``department``
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(200))
    #: What a reader recognises the object by (a tool's name, an app's name, an e-mail).
    object_label: Mapped[str] = mapped_column(String(320))
    #: ``created``, ``updated``, ``deleted``, or a verb of the lifecycle (``suspended``, ...)
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    #: ``portal``, ``api``, ``apply`` or the command that made the change
    source: Mapped[str] = mapped_column(String(40))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "occurred_at": self.occurred_at.isoformat(),
            "actor": {"kind": self.actor_kind, "id": self.actor_id, "label": self.actor_label},
            "object": {"type": self.object_type, "id": self.object_id, "label": self.object_label},
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "source": self.source,
        }


def record_change(
    session: Session,
    actor: Actor,
    source: str,
    object_type: str,
    object_id: str | int,
    object_label: str,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
) -> ChangeEvent | None:
    """Adds the change to the history; an update that changed nothing is not recorded."""
    if action == "updated" and before == after:
        return None
    if before is not None and after is not None and action == "updated":
        before, after = _changed_fields(before, after)
    event = ChangeEvent(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label,
        action=action,
        before=before,
        after=after,
        source=source,
    )
    session.add(event)
    return event


def _changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that differ, so a reader sees what changed at a glance."""
    keys = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after.get(key) for key in keys}


@dataclass(frozen=True)
class HistoryFilter:
    """Which changes a reader asks for; every field left as None matches all."""

    object_type: str | None = None
    object_id: str | None = None
    #: the actor's id (a user's id, an app's client id, an operator's login) or label
    actor: str | None = None
    action: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> Select:
        query = select(ChangeEvent)
        for column, value in (
            (ChangeEvent.object_type, self.object_type),
            (ChangeEvent.object_id, self.object_id),
            (ChangeEvent.action, self.action),
            (ChangeEvent.source, self.source),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.actor is not None:
            query = query.where(
                (ChangeEvent.actor_id == self.actor) | (ChangeEvent.actor_label == self.actor)
            )
        if self.since is not None:
            query = query.where(ChangeEvent.occurred_at >= self.since)
        if self.until is not None:
            query = query.where(ChangeEvent.occurred_at < self.until)
        return query


@dataclass(frozen=True)
class HistoryPage:
    events: list[ChangeEvent] = field(default_factory=list)
    next_cursor: str | None = None


def history_page(
    session: Session, where: HistoryFilter, limit: int = 50, cursor: str | None = None
) -> HistoryPage:
    """The newest changes matching ``where``; ``next_cursor`` continues with older ones."""
    query = where.query().order_by(ChangeEvent.id.desc()).limit(limit + 1)
    after = read_cursor(cursor, 1)
    if after is not None:
        if not isinstance(after[0], int):
            raise BadCursor("cursor is not one this API returned")
        query = query.where(ChangeEvent.id < after[0])
    events = list(session.scalars(query))
    more = len(events) > limit
    events = events[:limit]
    return HistoryPage(events, make_cursor([events[-1].id]) if more else None)


def all_changes(session: Session, where: HistoryFilter) -> Iterator[ChangeEvent]:
    """Every change matching ``where``, oldest first, read in batches (for exports)."""
    query = where.query().order_by(ChangeEvent.id).execution_options(yield_per=500)
    yield from session.scalars(query)

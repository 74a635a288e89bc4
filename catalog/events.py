"""What happened in the catalog that someone should hear about.

A service announces an event (a request submitted, a question asked, a decision) on
the session it was given; whoever delivers notices (``gateway.notifications``) reads
the announcements when the session commits, so a notice exists exactly when the change
does. The catalog does not know who listens or how they are told.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

_KEY = "catalog.events"


@dataclass(frozen=True)
class CatalogEvent:
    #: ``request_submitted``, ``question_asked``, ``question_answered``, ``request_decided``,
    #: ``tool_status_changed``, ``credentials_needed``
    name: str
    #: one line a person understands ("Growth asked for Brevo")
    summary: str
    #: the object concerned, as (type, id), for a link into the portal
    subject: tuple[str, str]
    #: e-mail addresses of people directly concerned (the requester, say)
    recipients: tuple[str, ...] = ()
    details: dict = field(default_factory=dict)


def announce(session: Session, event: CatalogEvent) -> None:
    session.info.setdefault(_KEY, []).append(event)


def take_announcements(session: Session) -> list[CatalogEvent]:
    """The events announced since the last call (the listener takes them once)."""
    return session.info.pop(_KEY, [])

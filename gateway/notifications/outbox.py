"""Catalog announcements become notices in the transaction that made the change.

Listens on an app's sessions: before a commit, each event announced on the session
(``catalog.events.announce``) is written as one notice per configured channel, so the
notices commit, or roll back, with the change; after a rollback the announcements are
dropped (a savepoint's rollback leaves them). Only the event's summary and a link into
the portal are written: never its details, which may hold what a notice must not carry.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from catalog.events import CatalogEvent, take_announcements
from gateway.config import Config
from gateway.identity.models import User
from gateway.identity.roles import Role
from gateway.notifications.models import Notice

#: Who is mailed about each event besides the people it names itself.
REVIEWERS = (Role.IT_REVIEWER, Role.ADMIN)
ROLES_MAILED = {
    "request_submitted": REVIEWERS,
    "question_answered": REVIEWERS,
    "credentials_needed": (Role.ADMIN,),
}
#: Where in the portal each kind of object is shown (by the subject's type).
PORTAL_PATHS = {
    "tool_request": "/portal/requests/{id}",
    "tool": "/portal/tools/{id}",
    "app": "/portal/apps/{id}",
}
#: ``session.info`` key: notices were written, so the deliverer has work.
WROTE_NOTICES = "gatehouse.notices_written"
_SUBJECT_LIMIT = 300


def listen(sessions: sessionmaker, config: Config, wake: Callable[[], None]) -> None:
    """Writes notices on the sessions ``sessions`` makes; ``wake`` is called after a commit
    that wrote any."""

    def write_notices(session: Session) -> None:
        for announced in take_announcements(session):
            notices = notices_for(session, announced, config)
            session.add_all(notices)
            if notices:
                session.info[WROTE_NOTICES] = True

    def after_commit(session: Session) -> None:
        if session.info.pop(WROTE_NOTICES, False):
            wake()

    def after_rollback(session: Session, rolled_back) -> None:
        if not rolled_back.nested:  # a savepoint's rollback leaves the transaction's own
            take_announcements(session)
            session.info.pop(WROTE_NOTICES, None)

    event.listen(sessions, "before_commit", write_notices)
    event.listen(sessions, "after_commit", after_commit)
    # "soft": also when the session had not yet reached the database
    event.listen(sessions, "after_soft_rollback", after_rollback)


def notices_for(session: Session, announced: CatalogEvent, config: Config) -> list[Notice]:
    """One notice per configured channel (e-mail only if someone is to be mailed)."""
    link = portal_link(config.portal_base_url, announced.subject)
    subject = " ".join(announced.summary.split())[:_SUBJECT_LIMIT]
    notices = []
    for channel in config.notifications.channels:
        recipients = mail_recipients(session, announced) if channel == "email" else []
        if channel == "email" and not recipients:
            continue
        notices.append(
            Notice(
                event=announced.name,
                channel=channel,
                recipients=recipients,
                subject=subject,
                text=f"{subject}\n\nOpen in Gatehouse: {link}",
                link=link,
            )
        )
    return notices


def mail_recipients(session: Session, announced: CatalogEvent) -> list[str]:
    """The people the event names, and the active users of the roles told about it."""
    roles = ROLES_MAILED.get(announced.name, ())
    by_role = session.scalars(
        select(User.email).where(User.role.in_(roles), User.active).order_by(User.email)
    )
    return list(dict.fromkeys([*announced.recipients, *(by_role if roles else ())]))


def portal_link(base_url: str, subject: tuple[str, str]) -> str:
    kind, identifier = subject
    path = PORTAL_PATHS.get(kind, "/portal/").format(id=identifier)
    return base_url + path

"""One-time sign-in links: how a new user gets in for the first time to set a password.

The link carries a random token shown once; only its SHA-256 is stored. It works once,
for 24 hours: redeeming it (with a new password) marks it used and signs the user in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from catalog.errors import NotFound
from gateway.db import utcnow
from gateway.identity.actors import Actor
from gateway.identity.models import SignInLink, User
from gateway.identity.users import set_password

LINK_LIFETIME = timedelta(hours=24)
SET_PASSWORD_PATH = "/portal/set-password/"  # noqa: S105 (a path, not a password)


def issue_link(session: Session, user: User) -> str:
    """A fresh token for ``user`` (to be put in a link and shown once)."""
    token = secrets.token_urlsafe(32)
    session.add(
        SignInLink(user_id=user.id, token_hash=_digest(token), expires_at=utcnow() + LINK_LIFETIME)
    )
    return token


def link_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + SET_PASSWORD_PATH + token


def usable_link(session: Session, token: str) -> SignInLink:
    """The unused, unexpired link of ``token`` for an active user; else NotFound."""
    link = session.scalar(select(SignInLink).where(SignInLink.token_hash == _digest(token)))
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise NotFound("this sign-in link is unknown, used already or expired: ask for a new one")
    if not link.user.active:
        raise NotFound("this sign-in link is of a deactivated account")
    return link


def redeem_link(session: Session, token: str, password: str) -> User:
    """Sets the link's user's password and uses the link up; returns the user."""
    link = usable_link(session, token)
    claimed = session.execute(
        update(SignInLink)
        .where(SignInLink.id == link.id, SignInLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # redeemed by a concurrent request just now
        raise NotFound("this sign-in link was used already: ask for a new one")
    user = link.user
    actor = Actor.for_user(user.id, user.email, user.role, user.department_slugs)
    set_password(session, actor, "portal", user, password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

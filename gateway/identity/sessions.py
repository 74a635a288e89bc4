"""The portal's session: which user is signed in, in a signed cookie that expires.

The cookie holds the user's id, the user's ``session_epoch`` at sign-in and the time of
sign-in; bumping the epoch (password change, deactivation, "sign out everywhere") ends
every session of that user at once, and no session outlives ``GATEHOUSE_SESSION_LIFETIME``
from its sign-in, however active (the cookie's own expiry slides with each request).
Each request loads the user once and turns it into an
:class:`~gateway.identity.actors.Actor`, which the portal and the API share.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, g, session

from gateway.api.auth import SESSION_ACTOR
from gateway.db import db
from gateway.identity.actors import Actor
from gateway.identity.models import User

_USER = "user_id"
_EPOCH = "epoch"
_SIGNED_IN_AT = "signed_in_at"


def start_session(user: User) -> None:
    """Signs ``user`` in: a fresh session (no value of the previous one survives)."""
    session.clear()
    session[_USER] = user.id
    session[_EPOCH] = user.session_epoch
    session[_SIGNED_IN_AT] = int(time.time())
    session.permanent = True


def end_session() -> None:
    session.clear()


def signed_in_user() -> User | None:
    """The signed-in user of this request, if the session is still valid."""
    if "signed_in_user" not in g:
        g.signed_in_user = _load_user()
    return g.signed_in_user


def session_actor() -> Actor | None:
    user = signed_in_user()
    if user is None:
        return None
    return Actor.for_user(user.id, user.email, user.role, user.department_slugs)


def _load_user() -> User | None:
    user_id, epoch = session.get(_USER), session.get(_EPOCH)
    if not isinstance(user_id, int) or not isinstance(epoch, int) or _expired():
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_epoch != epoch:
        return None
    return user


def _expired() -> bool:
    signed_in_at = session.get(_SIGNED_IN_AT)
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    return not isinstance(signed_in_at, int) or time.time() - signed_in_at > lifetime


def init_app(app: Flask) -> None:
    app.extensions[SESSION_ACTOR] = session_actor
    config = app.extensions["gatehouse.config"]
    app.config.update(
        SESSION_COOKIE_NAME="gatehouse_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        PERMANENT_SESSION_LIFETIME=config.session_lifetime,
    )

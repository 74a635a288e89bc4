"""Who may call the API: a signed-in user's session, or a gateway access token of an app,
holding the permission an operation needs.

A request with an ``Authorization`` header is an app's (its token is checked as the
proxy checks one); without one, the portal's session cookie is looked at. Either way the
view finds the caller in ``g.actor``, an :class:`~gateway.identity.actors.Actor`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from gateway.errors import Problem
from gateway.identity.actors import Actor
from gateway.oauth.server import oauth_of
from gateway.proxy.caller import DEFAULT_LOCATIONS, identify_caller
from gateway.snapshots import snapshots_of

#: Set by the identity package: the signed-in user's actor for this request, or None.
SESSION_ACTOR = "gatehouse.session_actor"


def actor_for(permission: str) -> Actor:
    """The request's actor, refused unless it holds ``permission``."""
    session_actor = current_app.extensions.get(SESSION_ACTOR)
    if "Authorization" not in request.headers and session_actor is not None:
        actor = session_actor()
        if actor is not None:
            _check_csrf()
            actor.require(permission)
            return actor
    caller = identify_caller(
        request,
        oauth_of(current_app).verifier,
        snapshots_of(current_app).get("clients"),
        DEFAULT_LOCATIONS,
        permission,
    )
    client = caller.client
    return Actor.for_app(client.client_id, client.name, client.department, caller.scopes)


def _check_csrf() -> None:
    """A session cookie is sent by the browser whoever made the page: a change made with
    one must carry the portal's CSRF token (``X-CSRFToken``), as its forms do."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError as exc:
            raise Problem(
                403,
                "csrf-failed",
                "CSRF token missing or wrong",
                "a change made with a session cookie needs the portal's CSRF token in X-CSRFToken",
            ) from exc


def guard(view: Callable, permission: str | None) -> Callable:
    """``view``, called only for a caller holding ``permission`` (anyone if None)."""
    if permission is None:
        return view

    @wraps(view)
    def guarded(*args, **kwargs):
        g.actor = actor_for(permission)
        return view(*args, **kwargs)

    return guarded


def require_scope(scope: str) -> Callable:
    """Decorator form of :func:`guard`."""
    return lambda view: guard(view, scope)


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise Problem(401, "unauthorized", "Unauthorized", "sign in or send an access token")
    return actor

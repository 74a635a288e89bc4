"""Who may call the API: a gateway access token carrying the scope an endpoint needs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request

from gateway.errors import Problem
from gateway.oauth.server import oauth_of
from gateway.oauth.tokens import InvalidAccessToken
from gateway.snapshots import snapshots_of

_CHALLENGE = 'Bearer realm="gatehouse"'


def require_scope(scope: str) -> Callable:
    """Refuse the request unless it bears a valid token of an active client with ``scope``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            g.api_client = _client_with_scope(scope)
            return view(*args, **kwargs)

        return guarded

    return decorate


def _client_with_scope(scope: str):
    scheme, _, token_string = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_string.strip():
        raise Problem(
            401,
            "invalid-token",
            "Unauthorized",
            "send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    try:
        token = oauth_of(current_app).verifier.authenticate(token_string.strip())
    except InvalidAccessToken as exc:
        raise Problem(
            401,
            "invalid-token",
            "Unauthorized",
            str(exc),
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        ) from exc
    client = snapshots_of(current_app).get("clients").get(token.client_id)
    if client is None or not client.active:
        raise Problem(
            401,
            "invalid-token",
            "Unauthorized",
            "the token's app is disabled",
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )
    if scope not in token.scopes:
        raise Problem(
            403,
            "insufficient-scope",
            "Insufficient scope",
            f"this endpoint needs the {scope!r} scope",
            headers={
                "WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", scope="{scope}"'
            },
        )
    return client

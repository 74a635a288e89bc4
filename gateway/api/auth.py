"""Who may call the API: a gateway access token carrying the scope an endpoint needs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request

from gateway.oauth.server import oauth_of
from gateway.proxy.caller import DEFAULT_LOCATIONS, identify_caller
from gateway.snapshots import snapshots_of


def require_scope(scope: str) -> Callable:
    """Refuse the request unless it bears a valid token of an active client with ``scope``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            g.api_caller = identify_caller(
                request,
                oauth_of(current_app).verifier,
                snapshots_of(current_app).get("clients"),
                DEFAULT_LOCATIONS,
                scope,
            )
            return view(*args, **kwargs)

        return guarded

    return decorate

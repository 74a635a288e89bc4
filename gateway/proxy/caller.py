"""Who is calling: the app's access token, verified locally, and its registered client.

The token is looked for where the vendor's SDK puts its own key (the spec's
``app_token`` locations), so an app keeps its SDK and changes only base URL and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Request

from connectors.spec import TokenLocation
from gateway.errors import Problem
from gateway.oauth.clients import ClientView
from gateway.oauth.tokens import AccessToken, AccessTokenVerifier, InvalidAccessToken
from gateway.proxy.body import request_document
from gateway.proxy.refusal import refusal
from gateway.unambiguous_json import AmbiguousJSON

PROXY_SCOPE = "proxy"
DEFAULT_LOCATIONS = (TokenLocation("bearer"),)
_CHALLENGE = 'Bearer realm="gatehouse"'


@dataclass(frozen=True)
class Caller:
    token: AccessToken
    client: ClientView


def identify_caller(
    request: Request,
    verifier: AccessTokenVerifier,
    clients: Mapping[str, ClientView],
    locations: tuple[TokenLocation, ...] = DEFAULT_LOCATIONS,
    scope: str = PROXY_SCOPE,
) -> Caller:
    """The verified token and active client of the request, holding ``scope``."""
    token_string = _find_token(request, locations)
    try:
        token = verifier.authenticate(token_string)
    except InvalidAccessToken as exc:
        raise _unauthenticated(str(exc), f'{_CHALLENGE}, error="invalid_token"') from exc
    client = clients.get(token.client_id)
    if client is None or not client.active:
        raise _unauthenticated(
            "the app this token was issued to is disabled or removed",
            f'{_CHALLENGE}, error="invalid_token"',
        )
    if scope not in token.scopes:
        raise refusal(
            403,
            "insufficient-scope",
            "Insufficient scope",
            "authentication",
            f"the access token lacks the {scope!r} scope",
            {"WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", scope="{scope}"'},
        )
    return Caller(token, client)


def _find_token(request: Request, locations: tuple[TokenLocation, ...]) -> str:
    document = _json_body(request) if any(loc.kind == "body" for loc in locations) else None
    for location in locations:
        token = location.read(request.headers, request.args, document)
        if token:
            return token
    where = " or ".join(location.describe() for location in locations)
    raise _unauthenticated(f"send the gateway's access token in {where}", _CHALLENGE)


def _json_body(request: Request):
    """The JSON body, read and parsed as the inspection reads it, so the token is taken
    from the document that is checked; ``None`` if it is not one (reported later)."""
    try:
        return request_document(request)
    except AmbiguousJSON:
        return None


def _unauthenticated(message: str, challenge: str) -> Problem:
    return refusal(
        401,
        "invalid-token",
        "Unauthorized",
        "authentication",
        message,
        {"WWW-Authenticate": challenge},
    )

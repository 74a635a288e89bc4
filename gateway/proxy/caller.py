"""Who is calling: the app's access token or API key, verified locally, and its client.

The credential is looked for where the vendor's SDK puts its own key (the spec's
``app_token`` locations), so an app keeps its SDK and changes only base URL and key.
An API key (``ghk_...``) is checked against the in-memory snapshot of hashed keys and
opens the proxy only; a JWT access token carries its own scopes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Request

from connectors.spec import TokenLocation
from gateway.errors import Problem
from gateway.oauth.api_keys import KEY_SCOPES, InvalidApiKey, KeyView, is_api_key, verify_api_key
from gateway.oauth.clients import ClientView
from gateway.oauth.tokens import AccessTokenVerifier, InvalidAccessToken
from gateway.proxy.body import request_document
from gateway.proxy.refusal import refusal
from gateway.unambiguous_json import AmbiguousJSON

PROXY_SCOPE = "proxy"
DEFAULT_LOCATIONS = (TokenLocation("bearer"),)
_CHALLENGE = 'Bearer realm="gatehouse"'


@dataclass(frozen=True)
class Caller:
    client: ClientView
    #: what the credential it sent allows
    scopes: frozenset[str]


def identify_caller(
    request: Request,
    verifier: AccessTokenVerifier,
    clients: Mapping[str, ClientView],
    locations: tuple[TokenLocation, ...] = DEFAULT_LOCATIONS,
    scope: str = PROXY_SCOPE,
    api_keys: Mapping[str, KeyView] | None = None,
) -> Caller:
    """The active client of the request's verified credential, holding ``scope``.
    API keys are accepted only where ``api_keys`` (the snapshot) is given."""
    credential = _find_token(request, locations)
    by_key = is_api_key(credential)
    if by_key:
        client_id, scopes = _key_holder(credential, api_keys)
    else:
        client_id, scopes = _token_holder(credential, verifier)
    client = clients.get(client_id)
    if client is None or not client.active:
        raise _unauthenticated(
            "the app this credential was issued to is disabled or removed",
            f'{_CHALLENGE}, error="invalid_token"',
        )
    if by_key:  # a key opens the proxy, if its app may use the proxy
        scopes = scopes & client.scopes
    if scope not in scopes:
        raise refusal(
            403,
            "insufficient-scope",
            "Insufficient scope",
            "authentication",
            f"the credential lacks the {scope!r} scope",
            {"WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", scope="{scope}"'},
        )
    return Caller(client, scopes)


def _token_holder(token: str, verifier: AccessTokenVerifier) -> tuple[str, frozenset[str]]:
    try:
        verified = verifier.authenticate(token)
    except InvalidAccessToken as exc:
        raise _unauthenticated(str(exc), f'{_CHALLENGE}, error="invalid_token"') from exc
    return verified.client_id, verified.scopes


def _key_holder(key: str, api_keys: Mapping[str, KeyView] | None) -> tuple[str, frozenset[str]]:
    if api_keys is None:
        raise _unauthenticated(
            "API keys open the proxy only; get an access token at /oauth/token for this",
            f'{_CHALLENGE}, error="invalid_token"',
        )
    try:
        view = verify_api_key(key, api_keys, time.time())
    except InvalidApiKey as exc:
        raise _unauthenticated(str(exc), f'{_CHALLENGE}, error="invalid_token"') from exc
    return view.client_id, KEY_SCOPES


def _find_token(request: Request, locations: tuple[TokenLocation, ...]) -> str:
    document = _json_body(request) if any(loc.kind == "body" for loc in locations) else None
    for location in locations:
        token = location.read(request.headers, request.args, document)
        if token:
            return token
    where = " or ".join(location.describe() for location in locations)
    raise _unauthenticated(f"send the gateway's access token or API key in {where}", _CHALLENGE)


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

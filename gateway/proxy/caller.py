"""Who is calling: the app's access token, verified locally, and its registered client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Request

from gateway.errors import Problem
from gateway.oauth.clients import ClientView
from gateway.oauth.tokens import AccessToken, AccessTokenVerifier, InvalidAccessToken
from gateway.proxy.refusal import refusal

PROXY_SCOPE = "proxy"


@dataclass(frozen=True)
class Caller:
    token: AccessToken
    client: ClientView


def identify_caller(
    request: Request, verifier: AccessTokenVerifier, clients: Mapping[str, ClientView]
) -> Caller:
    token_string = _bearer_token(request)
    try:
        token = verifier.authenticate(token_string)
    except InvalidAccessToken as exc:
        raise _unauthenticated(str(exc), 'Bearer realm="gatehouse", error="invalid_token"') from exc
    client = clients.get(token.client_id)
    if client is None or not client.active:
        raise _unauthenticated(
            "the app this token was issued to is disabled or removed",
            'Bearer realm="gatehouse", error="invalid_token"',
        )
    if PROXY_SCOPE not in token.scopes:
        raise refusal(
            403,
            "insufficient-scope",
            "Insufficient scope",
            "authentication",
            f"the access token lacks the {PROXY_SCOPE!r} scope",
            {
                "WWW-Authenticate": f'Bearer realm="gatehouse", error="insufficient_scope", '
                f'scope="{PROXY_SCOPE}"'
            },
        )
    return Caller(token, client)


def _bearer_token(request: Request) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise _unauthenticated(
            "send the gateway's access token as 'Authorization: Bearer <token>'",
            'Bearer realm="gatehouse"',
        )
    return credentials.strip()


def _unauthenticated(message: str, challenge: str) -> Problem:
    return refusal(
        401,
        "invalid-token",
        "Unauthorized",
        "authentication",
        message,
        {"WWW-Authenticate": challenge},
    )

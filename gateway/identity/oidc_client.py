"""The OpenID Connect client of single sign-on (Authlib), configured from
``GATEHOUSE_OIDC_*``.

The provider's endpoints and keys come from its discovery document; the authorization
code flow runs with PKCE (S256), a state and a nonce, all kept in the session until the
user comes back. :func:`verified_claims` returns the ID token's claims merged with the
userinfo endpoint's (where providers put claims such as ``groups``).
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from gateway.config import OidcSettings

_EXTENSION = "gatehouse.oidc_client"
_NAME = "company"
#: Seconds the provider has to answer each call (discovery, keys, token, userinfo).
PROVIDER_TIMEOUT = 10


def oidc_settings() -> OidcSettings | None:
    return current_app.extensions["gatehouse.config"].oidc


def oidc_client():
    """The app's registered Authlib client (only when single sign-on is configured)."""
    return current_app.extensions[_EXTENSION]


def verified_claims(client) -> dict[str, Any]:
    """On the return from the provider: exchange the code (checking state, PKCE and the
    ID token with its nonce) and return the person's claims."""
    token = client.authorize_access_token()
    claims = dict(token["userinfo"])
    userinfo = client.userinfo(token=token)
    if userinfo.get("sub") == claims["sub"]:  # OIDC Core 5.3.2: else it must not be used
        claims.update(userinfo)
    return claims


def init_app(app: Flask) -> None:
    settings: OidcSettings | None = app.extensions["gatehouse.config"].oidc
    if settings is None:
        return
    registry = OAuth(app)
    app.extensions[_EXTENSION] = registry.register(
        _NAME,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid email profile",
            "code_challenge_method": "S256",
            "default_timeout": PROVIDER_TIMEOUT,
        },
    )

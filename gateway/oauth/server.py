"""The authorization server: token, revocation, introspection and key-set endpoints.

Authlib does the protocol work (client authentication by ``client_secret_basic`` or
``client_secret_post``, the client credentials grant, RFC 7009 and RFC 7662); this
module supplies our clients, our signing keys and our revocation list. Errors keep the
RFC 6749 ``error`` members inside an RFC 9457 problem body, so both kinds of client
understand them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidScopeError, scope_to_list
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy import select

from gateway.db import db
from gateway.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from gateway.oauth.clients import KNOWN_SCOPES
from gateway.oauth.keys import ALGORITHM, SigningKeys
from gateway.oauth.models import AUTH_METHODS, GRANT_TYPE, Client
from gateway.oauth.revocations import prune_expired_revocations, record_revocation
from gateway.oauth.tokens import AccessToken, AccessTokenVerifier, InvalidAccessToken
from gateway.snapshots import snapshots_of
from gateway.vault import vault_of

bp = Blueprint("oauth", __name__)
#: The length of the column; a longer client id names no client.
MAX_CLIENT_ID = 64


@dataclass(frozen=True)
class OAuth:
    """What the rest of the gateway needs from this package."""

    server: AuthorizationServer
    keys: SigningKeys
    verifier: AccessTokenVerifier
    issuer: str


def oauth_of(app: Flask) -> OAuth:
    return app.extensions["gatehouse.oauth"]


class _TokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, keys: SigningKeys, issuer: str, audience: str, ttl: int) -> None:
        super().__init__(issuer, alg=ALGORITHM, expires_generator=lambda client, grant: ttl)
        self._keys = keys
        self._audience = audience

    def get_jwks(self):
        return self._keys.signing_set()

    def get_audiences(self, client, user, scope) -> str:
        return self._audience


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def validate_requested_scope(self) -> None:
        """A scope the client does not hold is refused (RFC 6749 §5.2): a token silently
        narrowed would fail later, far from the request that asked for too much."""
        requested = set(scope_to_list(self.request.payload.scope) or ())
        missing = requested - set(self.request.client.scopes.split())
        if missing:
            # Only scope names the gateway knows are repeated: the rest may be anything the
            # client sent, and an OAuth error description is plain ASCII (RFC 6749 §5.2).
            named = " ".join(sorted(missing & KNOWN_SCOPES))
            unknown = "scopes the gateway does not know" if missing - KNOWN_SCOPES else ""
            raise InvalidScopeError(
                "this client does not hold the requested "
                + (" and ".join(filter(None, [f"scope {named}" if named else "", unknown])))
            )


class _VerifiedTokenLookup:
    """Authlib's token lookup, answered by verifying the JWT rather than a table."""

    CLIENT_AUTH_METHODS = list(AUTH_METHODS)
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def __init__(self, verifier: AccessTokenVerifier) -> None:
        super().__init__()
        self._verifier = verifier

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessToken | None:
        try:
            return self._verifier.read(token_string)
        except InvalidAccessToken:
            return None


class _Revocation(_VerifiedTokenLookup, RevocationEndpoint):
    def revoke_token(self, token: AccessToken, request) -> None:
        record_revocation(db.session, token)
        prune_expired_revocations(db.session)


class _Introspection(_VerifiedTokenLookup, IntrospectionEndpoint):
    def check_permission(self, token: AccessToken, client: Client, request) -> bool:
        return token.check_client(client) or "introspect" in client.scopes.split()

    def introspect_token(self, token: AccessToken) -> dict:
        names = ("client_id", "sub", "aud", "iss", "exp", "iat", "jti")
        return {
            "active": True,
            "token_type": "Bearer",
            "scope": token.get_scope(),
            **{name: token.claims[name] for name in names if name in token.claims},
        }


class _Server(AuthorizationServer):
    def handle_response(self, status_code, payload, headers):
        if status_code < 400 or not isinstance(payload, dict) or "error" not in payload:
            return super().handle_response(status_code, payload, headers)
        problem = {
            "type": PROBLEM_TYPE_BASE + "oauth-" + payload["error"].replace("_", "-"),
            "title": payload["error"].replace("_", " ").capitalize(),
            "status": status_code,
            "detail": payload.get("error_description") or payload["error"],
            "request_id": g.get("request_id"),
            **payload,
        }
        kept = [(name, value) for name, value in headers if name.lower() != "content-type"]
        response = Response(json.dumps(problem), status=status_code, headers=kept)
        response.mimetype = PROBLEM_MEDIA_TYPE
        return response


def _query_client(client_id: str) -> Client | None:
    if len(client_id) > MAX_CLIENT_ID or "\x00" in client_id:
        return None  # names no client, and PostgreSQL would refuse the NUL mid-query
    return db.session.scalar(select(Client).where(Client.client_id == client_id))


@bp.before_request
def _refuse_unreadable_basic_credentials() -> Response | None:
    """Authlib reads HTTP basic credentials as UTF-8 and fails on other bytes; such a
    client is refused here as no client at all."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        base64.b64decode(credentials.strip()).decode()
    except ValueError:  # not base64, or not UTF-8
        server = oauth_of(current_app).server
        refusal = InvalidClientError(description="the basic credentials are not UTF-8 text")
        return server.handle_response(*refusal())
    return None


def _tokens_are_self_contained(token: dict, request) -> None:
    """JWT access tokens carry everything; nothing is stored at issue time."""


@bp.post("/oauth/token")
def token() -> Response:
    return oauth_of(current_app).server.create_token_response()


@bp.post("/oauth/revoke")
def revoke() -> Response:
    response = oauth_of(current_app).server.create_endpoint_response("revocation")
    db.session.commit()
    snapshots_of(current_app).invalidate()
    return response


@bp.post("/oauth/introspect")
def introspect() -> Response:
    return oauth_of(current_app).server.create_endpoint_response("introspection")


@bp.get("/oauth/jwks.json")
def jwks() -> Response:
    return jsonify(oauth_of(current_app).keys.public_jwks())


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    issuer = oauth_of(current_app).issuer
    return jsonify(
        issuer=issuer,
        token_endpoint=f"{issuer}/oauth/token",
        revocation_endpoint=f"{issuer}/oauth/revoke",
        introspection_endpoint=f"{issuer}/oauth/introspect",
        jwks_uri=f"{issuer}/oauth/jwks.json",
        grant_types_supported=[GRANT_TYPE],
        token_endpoint_auth_methods_supported=list(AUTH_METHODS),
        revocation_endpoint_auth_methods_supported=list(AUTH_METHODS),
        introspection_endpoint_auth_methods_supported=list(AUTH_METHODS),
        scopes_supported=sorted(KNOWN_SCOPES),
    )


def init_app(app: Flask) -> None:
    config = app.extensions["gatehouse.config"]
    snapshots = snapshots_of(app)
    keys = SigningKeys(db.of(app).sessions, vault_of(app), snapshots)
    audience = f"{config.issuer}/proxy"
    verifier = AccessTokenVerifier(
        keys,
        config.issuer,
        audience,
        lambda jti: jti in snapshots.get("revocations"),
        config.token_ttl_seconds,
    )
    server = _Server(query_client=_query_client, save_token=_tokens_are_self_contained)
    server.init_app(app)
    server.register_grant(_ClientCredentials)
    server.register_token_generator(
        "default", _TokenGenerator(keys, config.issuer, audience, config.token_ttl_seconds)
    )
    server.register_endpoint(_Revocation(verifier))
    server.register_endpoint(_Introspection(verifier))
    app.extensions["gatehouse.oauth"] = OAuth(server, keys, verifier, config.issuer)
    app.register_blueprint(bp)

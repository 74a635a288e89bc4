"""Verifying the gateway's own JWT access tokens (RFC 9068) without a database trip.

The signature, issuer, audience, type, expiry and lifetime are checked locally; revocation
is a lookup in the in-memory set of revoked token ids. A token living longer than the
gateway issues tokens for is refused even when our key signed it: a leaked signing key, or
a bug, must not mint tokens that outlive every revocation list.

An app sends the same token on every call until it expires, and checking its RS256
signature was the costliest step of authenticating a call: each process keeps the tokens it
verified (by their exact string, so a token with any other signature is verified afresh),
each until its expiry. Expiry and revocation are still judged on every call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from cachetools import TLRUCache
from joserfc import jws, jwt
from joserfc.errors import JoseError

from gateway.oauth.keys import ALGORITHM, SigningKeys

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
CLOCK_LEEWAY_SECONDS = 30
#: Verified tokens kept per process: far more than the apps hold live tokens at once.
VERIFIED_TOKENS_KEPT = 10_000


class InvalidAccessToken(Exception):
    """The token is malformed, forged, expired, revoked or not ours; message says which."""


@dataclass(frozen=True)
class AccessToken:
    """The claims of a verified access token; doubles as Authlib's token model."""

    client_id: str
    scopes: frozenset[str]
    jti: str
    issued_at: int
    expires_at: int
    claims: dict
    #: The id of the key that signed it: once that key is retired, the token is refused.
    kid: str | None = None
    revoked: bool = False

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return " ".join(sorted(self.scopes))

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return self.expires_at + CLOCK_LEEWAY_SECONDS < time.time()

    def is_revoked(self) -> bool:
        return self.revoked


class AccessTokenVerifier:
    def __init__(
        self,
        keys: SigningKeys,
        issuer: str,
        audience: str,
        is_revoked: Callable[[str], bool],
        max_lifetime_seconds: int,
    ) -> None:
        self._keys = keys
        self._is_revoked = is_revoked
        self._max_lifetime = max_lifetime_seconds
        self._verified: TLRUCache[str, AccessToken] = TLRUCache(
            VERIFIED_TOKENS_KEPT, _until_expired, timer=time.time
        )
        self._verified_lock = threading.Lock()
        self._claims = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            iat={"essential": True},
            jti={"essential": True},
            client_id={"essential": True},
        )

    def authenticate(self, token_string: str) -> AccessToken:
        """The token's claims if it may be used now; else :class:`InvalidAccessToken`."""
        token = self.read(token_string)
        if token.is_expired():
            raise InvalidAccessToken("the access token has expired")
        if token.revoked:
            raise InvalidAccessToken("the access token has been revoked")
        return token

    def read(self, token_string: str) -> AccessToken:
        """A genuine token of ours, whether or not expired or revoked."""
        with self._verified_lock:
            token = self._verified.get(token_string)
        if token is None or not self._keys.knows(token.kid):  # its key may be retired
            token = self._verify(token_string)
            with self._verified_lock:
                self._verified[token_string] = token
        if self._is_revoked(token.jti):
            return replace(token, revoked=True)
        return token

    def _verify(self, token_string: str) -> AccessToken:
        """The claims of a token our key signed for this gateway (revocation not judged)."""
        try:
            kid = jws.extract_compact(token_string.encode()).headers().get("kid")
            decoded = jwt.decode(
                token_string, self._keys.verification_set(kid), algorithms=[ALGORITHM]
            )
        except (JoseError, ValueError) as exc:
            raise InvalidAccessToken(
                "the access token is malformed or its signature is invalid"
            ) from exc
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidAccessToken("the token is not an access token")
        claims = decoded.claims
        if not isinstance(claims.get("exp"), int) or not isinstance(claims.get("iat"), int):
            raise InvalidAccessToken("the access token has no expiry or issue time")
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise InvalidAccessToken("the access token lives longer than this gateway allows")
        try:
            # Expiry is judged by the caller: introspection reports expired tokens too.
            self._claims.validate({name: value for name, value in claims.items() if name != "exp"})
        except JoseError as exc:
            raise InvalidAccessToken("the access token was not issued for this gateway") from exc
        return AccessToken(
            client_id=claims["client_id"],
            scopes=frozenset(str(claims.get("scope") or "").split()),
            jti=claims["jti"],
            issued_at=claims["iat"],
            expires_at=claims["exp"],
            claims=claims,
            kid=decoded.header.get("kid"),
        )


def _until_expired(_token_string: str, token: AccessToken, now: float) -> float:
    """How long a verified token is kept: until it is expired, leeway included."""
    return token.expires_at + CLOCK_LEEWAY_SECONDS

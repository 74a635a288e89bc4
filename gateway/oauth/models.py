"""OAuth tables: registered apps (clients), their API keys, revoked token ids, token
signing keys."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import Department
from gateway.db import Base, BigIntKey, UTCDateTime, utcnow

GRANT_TYPE = "client_credentials"
AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def hash_client_secret(secret: str) -> str:
    """SHA-256 suffices: secrets are 256 random bits, so there is nothing to brute-force,
    and a slow hash would only slow every token request."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Client(Base, ClientMixin):
    """A marketing app, owned by one department, that calls tools through the proxy."""

    __tablename__ = "oauth_clients"
    __snapshot__ = "catalog"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    scopes: Mapped[str] = mapped_column(String(500), default="proxy")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    description: Mapped[str | None] = mapped_column(Text)
    #: The tools the app was registered to call (slugs), as its owner declared them.
    tools: Mapped[list[str]] = mapped_column(JSON, default=list)

    department: Mapped[Department] = relationship()
    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="client", order_by="ApiKey.id", cascade="all, delete-orphan"
    )

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scopes.split()
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.active and hmac.compare_digest(
            self.secret_hash, hash_client_secret(client_secret)
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == GRANT_TYPE


class ApiKey(Base):
    """A long-lived key an app sends where its vendor SDK sends the vendor's key.

    The key is shown once; only ``key_id`` (its public part, also in the key itself) and
    a hash of its secret part are kept. A rotated key keeps working until ``expires_at``.
    """

    __tablename__ = "api_keys"
    __snapshot__ = "catalog"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[Client] = relationship(back_populates="api_keys")


class RevokedToken(Base):
    """A revoked access token's ``jti``, kept until the token would have expired."""

    __tablename__ = "revoked_tokens"
    __snapshot__ = "revocations"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKey(Base):
    """A private key that signs access tokens; stored encrypted by the vault."""

    __tablename__ = "signing_keys"
    __snapshot__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

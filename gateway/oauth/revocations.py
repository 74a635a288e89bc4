"""Revoked access tokens: recorded in the database, checked in memory.

A JWT cannot be un-signed, so revocation keeps the token's ``jti`` until the time it
would have expired anyway; the proxy refuses any token whose id is in the set.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.db import utcnow
from gateway.oauth.models import RevokedToken
from gateway.oauth.tokens import AccessToken


def record_revocation(session: Session, token: AccessToken) -> None:
    if session.scalar(select(RevokedToken.id).where(RevokedToken.jti == token.jti)) is None:
        session.add(
            RevokedToken(
                jti=token.jti,
                client_id=token.client_id,
                expires_at=datetime.fromtimestamp(token.expires_at, UTC),
            )
        )


def build_revoked_ids(session: Session) -> frozenset[str]:
    query = select(RevokedToken.jti).where(RevokedToken.expires_at > utcnow())
    return frozenset(session.scalars(query))


def prune_expired_revocations(session: Session) -> int:
    """Forget revocations of tokens that have expired; returns how many."""
    result = session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= utcnow()))
    return result.rowcount

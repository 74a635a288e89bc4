"""Replacing the keys the gateway signs with: the access tokens' and the audit log's.

A new key signs from the moment it is committed (every instance switches within a
second: the token keys are a snapshot, the audit key is read at each signing); the older
ones go on verifying. Token keys can then be retired: once every token an older key
signed has expired, retiring them ends nothing; before that (a key that leaked), it
ends those tokens at once and their apps fetch new ones. Audit keys are never retired:
the checkpoints, retention anchors and export manifests they signed are checked against
them for as long as the log is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.signing import AuditKey, create_audit_key
from gateway.db import utcnow
from gateway.oauth.keys import create_signing_key
from gateway.oauth.models import SigningKey
from gateway.oauth.tokens import CLOCK_LEEWAY_SECONDS
from gateway.vault import Vault

#: The kinds of signing key, by the name the CLI gives them.
TOKEN, AUDIT = "token", "audit"
KINDS = (TOKEN, AUDIT)


@dataclass(frozen=True)
class StoredKey:
    kind: str
    key_id: str
    created_at: datetime
    #: Whether it is the newest of its kind, the one that signs.
    signs: bool

    def as_dict(self) -> dict:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


class RetirementRefused(Exception):
    """Retiring now would end tokens that are still valid, and that was not asked for."""


def stored_keys(session: Session) -> list[StoredKey]:
    """Every signing key, oldest first within each kind."""
    token_rows = session.execute(
        select(SigningKey.kid, SigningKey.created_at).order_by(SigningKey.id)
    ).all()
    audit_rows = session.execute(
        select(AuditKey.key_id, AuditKey.created_at).order_by(AuditKey.id)
    ).all()
    return [
        StoredKey(kind, key_id, created_at, signs=index == len(rows) - 1)
        for kind, rows in ((TOKEN, token_rows), (AUDIT, audit_rows))
        for index, (key_id, created_at) in enumerate(rows)
    ]


def new_signing_key(session: Session, vault: Vault, kind: str) -> StoredKey:
    """A new key of ``kind`` (``token`` or ``audit``), committed: it signs from now on."""
    if kind == TOKEN:
        row = create_signing_key(session, vault)
        key_id = row.kid
    elif kind == AUDIT:
        row = create_audit_key(session, vault)
        key_id = row.key_id
    else:
        raise ValueError(f"no signing key of kind {kind!r}; the kinds are {', '.join(KINDS)}")
    session.commit()
    return StoredKey(kind, key_id, row.created_at, signs=True)


def retire_token_keys(session: Session, token_ttl_seconds: int, at_once: bool) -> list[str]:
    """Deletes every token key but the newest, committed; the kids deleted.

    Unless ``at_once``, refused with :class:`RetirementRefused` while a token signed by
    an older key may still be valid (the newest key is younger than the tokens' lifetime,
    with the clock leeway)."""
    keys = session.scalars(select(SigningKey).order_by(SigningKey.id)).all()
    if len(keys) < 2:
        return []
    *older, newest = keys
    harmless_from = newest.created_at + timedelta(seconds=token_ttl_seconds + CLOCK_LEEWAY_SECONDS)
    if not at_once and utcnow() < harmless_from:
        raise RetirementRefused(
            "tokens signed by the older keys may be valid until "
            f"{harmless_from.isoformat(timespec='seconds')}: retire them after that, or "
            "now with --now if a key leaked (their apps then fetch new tokens)"
        )
    for row in older:  # one by one, so that the flush moves the keys' snapshot version
        session.delete(row)
    session.commit()
    return [row.kid for row in older]

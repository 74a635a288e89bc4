"""The gateway's Ed25519 audit key: signs checkpoints of the log and export manifests.

The key is created on first use and kept encrypted by the vault. Each signed document
carries the key's id and public key, so anyone can check a signature offline; the
gateway also checks that the key is one it holds (:func:`known_public_key`).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, replace
from datetime import datetime
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.db import Base, UTCDateTime, utcnow
from gateway.vault import Vault


class AuditKey(Base):
    __tablename__ = "audit_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SignedDocument:
    """Mixin for a frozen dataclass with ``key_id``, ``public_key`` and ``signature``
    fields, signed over the canonical JSON (sorted keys, no white space) of all its
    other fields."""

    key_id: str
    public_key: str
    signature: str

    def payload(self) -> bytes:
        unsigned = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, session: Session, vault: Vault) -> Self:
        """This document signed with the gateway's audit key (created on first use)."""
        row, private_key = _signing_key(session, vault)
        keyed = replace(self, key_id=row.key_id, public_key=row.public_key)
        signature = base64.b64encode(private_key.sign(keyed.payload())).decode()
        return replace(keyed, signature=signature)

    def signature_valid(self) -> bool:
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))
            key.verify(base64.b64decode(self.signature), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"this is not a {cls.__name__} of the gateway") from exc


def known_public_key(session: Session, key_id: str) -> str | None:
    return session.scalar(select(AuditKey.public_key).where(AuditKey.key_id == key_id))


def _signing_key(session: Session, vault: Vault) -> tuple[AuditKey, Ed25519PrivateKey]:
    row = session.scalar(select(AuditKey).order_by(AuditKey.id.desc()))
    if row is None:
        row = create_audit_key(session, vault)
    return row, Ed25519PrivateKey.from_private_bytes(vault.decrypt(row.private_key_encrypted))


def create_audit_key(session: Session, vault: Vault) -> AuditKey:
    """A new key, the one that signs once committed. Older keys stay: what they signed
    is checked against them."""
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    row = AuditKey(
        key_id=secrets.token_hex(8),
        public_key=base64.b64encode(public).decode(),
        private_key_encrypted=vault.encrypt(raw),
    )
    session.add(row)
    session.flush()
    return row

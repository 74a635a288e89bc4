"""Signed checkpoints: the heads of both chains at a moment, signed with Ed25519.

A checkpoint kept outside the gateway (exported to the DPO, or to write-once storage)
lets a verifier prove that records up to it were neither changed nor cut off later. The
signing key is created on first use and stored encrypted by the vault; each checkpoint
carries its public key, and verification also compares that key with the gateway's.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.audit.writer import chain_heads
from gateway.db import Base, BigIntKey, UTCDateTime, utcnow
from gateway.vault import Vault


class AuditKey(Base):
    __tablename__ = "audit_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckpointRow(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    record_hash: str
    outcome_seq: int
    outcome_hash: str
    created_at: str
    key_id: str
    public_key: str
    signature: str = ""

    def payload(self) -> bytes:
        signed = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()

    def signature_valid(self) -> bool:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public_key))
        try:
            key.verify(base64.b64decode(self.signature), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        return cls(**json.loads(text))


def create_checkpoint(session: Session, vault: Vault) -> Checkpoint:
    """Sign the current heads and keep the checkpoint (the caller commits)."""
    key_row, private_key = _signing_key(session, vault)
    (seq, record), (outcome_seq, outcome) = chain_heads(session)
    unsigned = Checkpoint(
        seq,
        record,
        outcome_seq,
        outcome,
        utcnow().isoformat(),
        key_row.key_id,
        key_row.public_key,
    )
    signature = base64.b64encode(private_key.sign(unsigned.payload())).decode()
    checkpoint = Checkpoint(**{**asdict(unsigned), "signature": signature})
    session.add(CheckpointRow(document=checkpoint.to_json()))
    return checkpoint


def latest_checkpoint(session: Session) -> Checkpoint | None:
    document = session.scalar(select(CheckpointRow.document).order_by(CheckpointRow.id.desc()))
    return Checkpoint.from_json(document) if document else None


def known_public_key(session: Session, key_id: str) -> str | None:
    return session.scalar(select(AuditKey.public_key).where(AuditKey.key_id == key_id))


def _signing_key(session: Session, vault: Vault) -> tuple[AuditKey, Ed25519PrivateKey]:
    row = session.scalar(select(AuditKey).order_by(AuditKey.id.desc()))
    if row is None:
        private_key = Ed25519PrivateKey.generate()
        raw = private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
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
        return row, private_key
    return row, Ed25519PrivateKey.from_private_bytes(vault.decrypt(row.private_key_encrypted))

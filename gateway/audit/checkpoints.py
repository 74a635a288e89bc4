"""Signed checkpoints: the heads of both chains at a moment, signed with Ed25519.

A checkpoint kept outside the gateway (exported to the DPO, or to write-once storage)
lets a verifier prove that records up to it were neither changed nor cut off later. The
signing key is created on first use and stored encrypted by the vault; each checkpoint
carries its public key, and verification also compares that key with the gateway's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.audit.signing import SignedDocument, known_public_key
from gateway.audit.writer import chain_heads
from gateway.db import Base, BigIntKey, UTCDateTime, utcnow
from gateway.vault import Vault


class CheckpointRow(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Checkpoint(SignedDocument):
    seq: int
    record_hash: str
    outcome_seq: int
    outcome_hash: str
    created_at: str
    key_id: str = ""
    public_key: str = ""
    signature: str = ""


def create_checkpoint(session: Session, vault: Vault) -> Checkpoint:
    """Sign the current heads and keep the checkpoint (the caller commits)."""
    (seq, record), (outcome_seq, outcome) = chain_heads(session)
    checkpoint = sign_checkpoint(session, vault, seq, record, outcome_seq, outcome)
    session.add(CheckpointRow(document=checkpoint.to_json()))
    return checkpoint


def sign_checkpoint(
    session: Session, vault: Vault, seq: int, record: str, outcome_seq: int, outcome: str
) -> Checkpoint:
    """A signed checkpoint of these heads (kept nowhere by this function)."""
    checkpoint = Checkpoint(seq, record, outcome_seq, outcome, utcnow().isoformat())
    return checkpoint.signed(session, vault)


def latest_checkpoint(session: Session) -> Checkpoint | None:
    document = session.scalar(select(CheckpointRow.document).order_by(CheckpointRow.id.desc()))
    return Checkpoint.from_json(document) if document else None


def untrusted_because(session: Session, checkpoint: Checkpoint) -> str | None:
    """Why ``checkpoint`` cannot be relied on (its signature, or a key this gateway does
    not hold), or None when it can."""
    if not checkpoint.signature_valid():
        return (
            f"the checkpoint's signature is invalid: it was altered (the checkpoint of "
            f"{checkpoint.created_at}, seq {checkpoint.seq})"
        )
    if known_public_key(session, checkpoint.key_id) != checkpoint.public_key:
        return (
            f"the checkpoint was signed with key {checkpoint.key_id}, which this gateway does "
            "not hold: it was made elsewhere, or the gateway's keys were replaced"
        )
    return None

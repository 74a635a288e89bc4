"""Moving every value encrypted at rest to the first of ``GATEHOUSE_ENCRYPTION_KEYS``.

Once a new key is put first, stored values stay under the keys they were written with
until something writes them again, so an old key could never be dropped from the list.
``re_encrypt`` rewrites them all in one transaction (``MultiFernet.rotate``: decrypted
with whichever listed key fits, encrypted with the first). A value that no listed key
decrypts is left untouched and reported, and then nothing is committed: an operator
who removed a key too early finds out before anything else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import Tool
from gateway.audit.signing import AuditKey
from gateway.oauth.models import SigningKey
from gateway.vault import Vault, VaultError

#: Each kind of encrypted value: its name in reports, its model and column, what names a row.
ENCRYPTED = (
    ("vendor credentials", Tool, "credentials_encrypted", "slug"),
    ("token signing keys", SigningKey, "private_key_encrypted", "kid"),
    ("audit signing keys", AuditKey, "private_key_encrypted", "key_id"),
)


@dataclass
class ReEncryption:
    #: Per kind, how many values were re-encrypted (committed only if ``complete``).
    moved: dict[str, int] = field(default_factory=dict)
    #: Per kind, the rows whose value no listed key decrypts.
    undecryptable: dict[str, list[str]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not any(self.undecryptable.values())

    def as_dict(self) -> dict:
        return {"complete": self.complete, "moved": self.moved, "undecryptable": self.undecryptable}


def re_encrypt(session: Session, vault: Vault) -> ReEncryption:
    """Every encrypted value under the first key, committed only if all of them could be."""
    report = ReEncryption()
    for kind, model, column, name in ENCRYPTED:
        report.moved[kind], report.undecryptable[kind] = 0, []
        rows = session.scalars(select(model).where(getattr(model, column).is_not(None)))
        for row in rows:
            try:
                setattr(row, column, vault.rotate(getattr(row, column)))
            except VaultError:
                report.undecryptable[kind].append(getattr(row, name))
            else:
                report.moved[kind] += 1
    if report.complete:
        session.commit()
    else:
        session.rollback()
    return report

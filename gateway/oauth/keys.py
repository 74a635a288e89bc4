"""The keys that sign access tokens: kept in the database, encrypted by the vault.

Every instance behind a load balancer reads the same keys, so a token issued by one
is accepted by all. The newest key signs; every stored key verifies. The keys are a
snapshot (``gateway.snapshots``): a key made or retired by ``gatehouse keys`` reaches
every instance as other changes do, within a second. A token naming an unknown ``kid``
makes the next read look at the versions first (another instance may just have made it).
"""

from __future__ import annotations

import logging
import secrets
import threading
from typing import TYPE_CHECKING

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.oauth.models import SigningKey
from gateway.vault import Vault, VaultError

if TYPE_CHECKING:  # the snapshots build these keys, among other views
    from gateway.snapshots import Snapshots

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
#: The name of the keys' view among the snapshots, and of its state version.
SNAPSHOT = "signing_keys"


class SigningKeys:
    def __init__(self, sessions: sessionmaker[Session], vault: Vault, snapshots: Snapshots):
        self._sessions = sessions
        self._vault = vault
        self._snapshots = snapshots
        self._lock = threading.Lock()

    def signing_set(self) -> KeySet:
        """A set holding only the newest private key (joserfc then names it by kid)."""
        keys = self._snapshots.get(SNAPSHOT)
        if not keys:
            self._create_first()
            keys = self._snapshots.get(SNAPSHOT)
        return KeySet([keys[-1]])

    def verification_set(self, kid: str | None = None) -> KeySet:
        return KeySet(list(self._known(kid)))

    def knows(self, kid: str | None) -> bool:
        """Whether ``kid`` is still one of the stored keys (a retired key is not)."""
        return _holds(self._snapshots.get(SNAPSHOT), kid)

    def public_jwks(self) -> dict:
        return self.verification_set().as_dict(private=False)

    def _known(self, kid: str | None) -> list[RSAKey]:
        keys = self._snapshots.get(SNAPSHOT)
        if kid and not _holds(keys, kid):
            self._snapshots.invalidate()
            keys = self._snapshots.get(SNAPSHOT)
        return keys

    def _create_first(self) -> None:
        """A key when none can sign: none stored yet, or none the encryption keys open
        (one was removed too early); tokens signed by those can no longer be checked."""
        with self._lock, self._sessions() as session:
            if not load_signing_keys(session, self._vault):
                create_signing_key(session, self._vault)
                session.commit()
        self._snapshots.invalidate()


def _holds(keys: list[RSAKey], kid: str | None) -> bool:
    return any(key.kid == kid for key in keys)


def load_signing_keys(session: Session, vault: Vault) -> list[RSAKey]:
    """The stored keys, oldest first; one no listed encryption key opens is left out."""
    rows = session.scalars(select(SigningKey).order_by(SigningKey.id))
    return [key for row in rows if (key := _import(row, vault)) is not None]


def create_signing_key(session: Session, vault: Vault) -> SigningKey:
    """A new key, the one that signs once committed."""
    kid = secrets.token_urlsafe(12)
    key = RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
    row = SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        private_key_encrypted=vault.encrypt(key.as_pem(private=True)),
    )
    session.add(row)
    session.flush()
    return row


def _import(row: SigningKey, vault: Vault) -> RSAKey | None:
    try:
        pem = vault.decrypt(row.private_key_encrypted)
    except VaultError:
        logger.error(
            "signing key %s cannot be decrypted with GATEHOUSE_ENCRYPTION_KEYS; tokens it "
            "signed are refused (was an encryption key removed?)",
            row.kid,
        )
        return None
    return RSAKey.import_key(pem, parameters={"kid": row.kid, "alg": row.algorithm, "use": "sig"})

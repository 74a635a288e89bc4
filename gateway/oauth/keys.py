"""The keys that sign access tokens: kept in the database, encrypted by the vault.

Every instance behind a load balancer reads the same keys, so a token issued by one
is accepted by all. The newest key signs; every stored key verifies, and a token
naming an unknown ``kid`` triggers one reload (another instance may have made it).
"""

from __future__ import annotations

import logging
import secrets
import threading

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.oauth.models import SigningKey
from gateway.vault import Vault, VaultError

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"


class SigningKeys:
    def __init__(self, sessions: sessionmaker[Session], vault: Vault) -> None:
        self._sessions = sessions
        self._vault = vault
        self._lock = threading.Lock()
        self._keys: list[RSAKey] = []

    def signing_set(self) -> KeySet:
        """A set holding only the newest private key (joserfc then names it by kid)."""
        if not self._keys:
            self._load(create_if_missing=True)
        return KeySet([self._keys[-1]])

    def verification_set(self, kid: str | None = None) -> KeySet:
        if not self._keys or (kid and kid not in {key.kid for key in self._keys}):
            self._load(create_if_missing=False)
        return KeySet(list(self._keys))

    def public_jwks(self) -> dict:
        return self.verification_set().as_dict(private=False)

    def _load(self, create_if_missing: bool) -> None:
        with self._lock, self._sessions() as session:
            rows = session.scalars(select(SigningKey).order_by(SigningKey.id)).all()
            keys = [key for row in rows if (key := self._import(row)) is not None]
            if not keys and create_if_missing:
                keys = [self._import(self._create(session))]
                session.commit()
            self._keys = keys

    def _create(self, session: Session) -> SigningKey:
        kid = secrets.token_urlsafe(12)
        key = RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
        pem = key.as_pem(private=True)
        row = SigningKey(
            kid=kid, algorithm=ALGORITHM, private_key_encrypted=self._vault.encrypt(pem)
        )
        session.add(row)
        return row

    def _import(self, row: SigningKey) -> RSAKey | None:
        try:
            pem = self._vault.decrypt(row.private_key_encrypted)
        except VaultError:
            logger.error(
                "signing key %s cannot be decrypted with GATEHOUSE_ENCRYPTION_KEYS; tokens it "
                "signed are refused (was an encryption key removed?)",
                row.kid,
            )
            return None
        return RSAKey.import_key(
            pem, parameters={"kid": row.kid, "alg": row.algorithm, "use": "sig"}
        )

"""Encryption at rest for vendor credentials and signing keys.

Fernet (AES-128-CBC with HMAC-SHA256) through ``MultiFernet``: the first key of
``GATEHOUSE_ENCRYPTION_KEYS`` encrypts, every listed key decrypts, so a key is
rotated by putting a new one first and running ``gatehouse keys re-encrypt``.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask


class VaultError(Exception):
    """A ciphertext could not be decrypted with any configured key."""


class Vault:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, ciphertext: str) -> bytes:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii"))
        except InvalidToken as exc:
            raise VaultError("no configured encryption key decrypts this value") from exc

    def encrypt_json(self, value: dict) -> str:
        return self.encrypt(json.dumps(value, sort_keys=True).encode())

    def decrypt_json(self, ciphertext: str) -> dict:
        return json.loads(self.decrypt(ciphertext))

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext, encrypted with the first key."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise VaultError("no configured encryption key decrypts this value") from exc


def vault_of(app: Flask) -> Vault:
    return app.extensions["gatehouse.vault"]


def init_app(app: Flask) -> None:
    app.extensions["gatehouse.vault"] = Vault(app.extensions["gatehouse.config"].encryption_keys)

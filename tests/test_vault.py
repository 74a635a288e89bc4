"""Encryption at rest and key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from gateway.vault import Vault, VaultError


def test_round_trip_and_rotation():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = Vault((old,)).encrypt_json({"api_key": "vendor-secret"})
    assert "vendor-secret" not in stored
    assert Vault((new, old)).decrypt_json(stored) == {"api_key": "vendor-secret"}
    with pytest.raises(VaultError):
        Vault((new,)).decrypt_json(stored)

"""Passwords of local accounts, hashed with Argon2id (argon2-cffi's defaults)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _unknown_account() -> str:
    """Verified against when the account does not exist, so both cost the same time.
    Made on first use: hashing takes ~0.3 s, which every command would pay at import."""
    return _hasher.hash("no such account")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _unknown_account(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False

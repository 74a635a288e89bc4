"""Data subjects as keyed hashes: the gateway records and looks up people without keeping
their identifiers.

An identifier is normalised (trimmed, lower-cased e-mail; E.164 phone), then hashed
with HMAC-SHA256 under the secret pepper, its kind included so an e-mail and an id
that happen to be equal never collide. An identifier that cannot be normalised has
no key: policy treats such a subject as unknown, and unknown never passes.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")


def normalise(kind: str, identifier: str) -> str | None:
    value = identifier.strip()
    if kind == "email":
        value = value.lower()
        return value if _EMAIL.fullmatch(value) else None
    if kind == "phone":
        value = _PHONE_PUNCTUATION.sub("", value)
        if value.startswith("00"):
            value = "+" + value[2:]
        return value if _E164.fullmatch(value) else None
    if kind == "external_id":
        return value or None
    raise ValueError(f"unknown subject kind {kind!r}")


def subject_key(pepper: bytes, kind: str, identifier: str) -> str | None:
    normalised = normalise(kind, identifier)
    if normalised is None:
        return None
    return hmac.new(pepper, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()

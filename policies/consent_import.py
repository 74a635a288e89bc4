"""Reading consent records from CSV or JSON lines, for `gatehouse consent import`.

Each row names one person (``email``, ``phone`` or ``external_id``), a ``purpose``
(fideslang data use), a ``status`` (granted or withdrawn), a ``source`` and when it
happened (``occurred_at``, ISO 8601); ``expires_at``, ``lawful_basis`` and ``evidence``
are optional; the API's consent events are read by the same rules. Text longer than its
column or holding a NUL, and times outside what is stored, are refused. A bad row is
reported with its line number and skipped; it never stops the import. Identifiers are
hashed with the pepper as soon as they are read.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from policies.consent import ConsentStatus, NewConsent
from policies.moments import storable_utc
from policies.subjects import subject_key
from policies.taxonomy import known_data_uses

IDENTIFIER_KINDS = ("email", "phone", "external_id")
#: Longer identifiers are no one's: an address is at most 320 characters (RFC 5321).
IDENTIFIER_LENGTHS = {"email": 320, "phone": 40, "external_id": 500}


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


def read_rows(stream: IO[str], jsonl: bool) -> Iterator[tuple[int, dict | None, str | None]]:
    """``(line number, row, problem)`` for each record of the file."""
    if jsonl:
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except (ValueError, RecursionError) as exc:
                yield number, None, f"not JSON: {exc}"
                continue
            yield (number, row, None) if isinstance(row, dict) else (number, None, "not an object")
        return
    reader = csv.DictReader(stream)
    for row in reader:
        yield reader.line_num, row, None


def parse_row(row: dict, pepper: bytes) -> NewConsent:
    """A consent to record, or ``ValueError`` saying what is wrong with the row."""
    identifiers = {kind: _text(row, kind, IDENTIFIER_LENGTHS[kind]) for kind in IDENTIFIER_KINDS}
    kinds = [kind for kind, value in identifiers.items() if value]
    if len(kinds) != 1:
        raise ValueError(f"give exactly one of {', '.join(IDENTIFIER_KINDS)}")
    key = subject_key(pepper, kinds[0], identifiers[kinds[0]])
    if key is None:
        raise ValueError(f"{kinds[0]} {identifiers[kinds[0]][:3]}... cannot be read")
    purpose = _text(row, "purpose", 100)
    if purpose not in known_data_uses():
        raise ValueError(f"purpose {purpose!r} is not a fideslang data use")
    try:
        status = ConsentStatus(_text(row, "status", 20).lower())
    except ValueError as exc:
        raise ValueError("status must be granted or withdrawn") from exc
    source = _text(row, "source", 100)
    if not source:
        raise ValueError("source is required (the CMP, form or system it came from)")
    expires_at = _text(row, "expires_at", 40)
    return NewConsent(
        subject_key=key,
        purpose=purpose,
        status=status,
        source=source,
        occurred_at=_time(_text(row, "occurred_at", 40), "occurred_at"),
        expires_at=_time(expires_at, "expires_at") if expires_at else None,
        lawful_basis=_text(row, "lawful_basis", 30) or "consent",
        evidence=_evidence(row.get("evidence")),
    )


def _text(row: dict, name: str, max_length: int) -> str:
    """The field as trimmed text ('' if absent); refused if not text, too long or holding
    a NUL, which PostgreSQL cannot store."""
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    if "\x00" in value:
        raise ValueError(f"{name} holds a NUL character")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"{name} is longer than {max_length} characters")
    return value


def _evidence(value: object) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"ref": value}
    raise ValueError("evidence must be a reference (text) or an object")


def _time(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO 8601 time, not {text[:40]!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a time zone (e.g. 2026-05-01T10:00:00Z)")
    return storable_utc(moment, name)

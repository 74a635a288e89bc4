"""Reading consent records from CSV or JSON lines, for `gatehouse consent import`.

Each row names one person (``email``, ``phone`` or ``external_id``), a ``purpose``
(fideslang data use), a ``status`` (granted or withdrawn), a ``source`` and when it
happened (``occurred_at``, ISO 8601); ``expires_at``, ``lawful_basis`` and ``evidence``
are optional. A bad row is reported with its line number and skipped; it never stops
the import. Identifiers are hashed with the pepper as soon as they are read.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from policies.consent import ConsentStatus, NewConsent
from policies.subjects import subject_key
from policies.taxonomy import known_data_uses

IDENTIFIER_KINDS = ("email", "phone", "external_id")


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
            except ValueError as exc:
                yield number, None, f"not JSON: {exc}"
                continue
            yield (number, row, None) if isinstance(row, dict) else (number, None, "not an object")
        return
    reader = csv.DictReader(stream)
    for row in reader:
        yield reader.line_num, row, None


def parse_row(row: dict, pepper: bytes) -> NewConsent:
    """A consent to record, or ``ValueError`` saying what is wrong with the row."""
    kinds = [kind for kind in IDENTIFIER_KINDS if (row.get(kind) or "").strip()]
    if len(kinds) != 1:
        raise ValueError(f"give exactly one of {', '.join(IDENTIFIER_KINDS)}")
    key = subject_key(pepper, kinds[0], str(row[kinds[0]]))
    if key is None:
        raise ValueError(f"{kinds[0]} {str(row[kinds[0]])[:3]}... cannot be read")
    purpose = (row.get("purpose") or "").strip()
    if purpose not in known_data_uses():
        raise ValueError(f"purpose {purpose!r} is not a fideslang data use")
    try:
        status = ConsentStatus((row.get("status") or "").strip().lower())
    except ValueError as exc:
        raise ValueError("status must be granted or withdrawn") from exc
    source = (row.get("source") or "").strip()
    if not source:
        raise ValueError("source is required (the CMP, form or system it came from)")
    evidence = row.get("evidence")
    return NewConsent(
        subject_key=key,
        purpose=purpose,
        status=status,
        source=source[:100],
        occurred_at=_time(row.get("occurred_at"), "occurred_at"),
        expires_at=_time(row["expires_at"], "expires_at") if row.get("expires_at") else None,
        lawful_basis=(row.get("lawful_basis") or "consent").strip(),
        evidence=evidence
        if isinstance(evidence, dict)
        else ({"ref": evidence} if evidence else {}),
    )


def _time(value: object, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name} must be an ISO 8601 time, not {value!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a time zone (e.g. 2026-05-01T10:00:00Z)")
    return moment.astimezone(UTC)

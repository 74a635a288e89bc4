"""Exports of the log with a signed manifest: what was exported, and proof of the file.

The manifest names the filters, the number of records, the first and last sequence
numbers and the SHA-256 of the file's bytes, and is signed with the gateway's audit key.
Whoever receives the file can check that it is complete and unaltered, offline, with
the public key the manifest carries (``gatehouse audit verify-export``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.audit.export import RecordEncoder, record_as_dict
from gateway.audit.search import ExchangeFilter, iter_matching
from gateway.audit.signing import SignedDocument
from gateway.audit.writer import chain_heads
from gateway.db import utcnow
from gateway.vault import Vault


@dataclass(frozen=True)
class ExportManifest(SignedDocument):
    format: str
    filters: dict
    count: int
    first_seq: int | None
    last_seq: int | None
    #: The head of the log when the export began: records after it were not considered.
    through_seq: int
    sha256: str
    created_at: str
    key_id: str = ""
    public_key: str = ""
    signature: str = ""


class ExportDigest:
    """The records matching a filter, up to the head of the log when it is created,
    encoded into file bytes while counting and hashing what was produced."""

    def __init__(
        self, session: Session, where: ExchangeFilter, file_format: str, unknown_after: datetime
    ) -> None:
        self.session, self.where = session, where
        self.through_seq = chain_heads(session)[0][0]
        self.encoder = RecordEncoder(file_format)
        self.unknown_after = unknown_after
        self.count = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self._sha256 = hashlib.sha256()

    def chunks(self, per_chunk: int = 500) -> Iterator[bytes]:
        pending = [self.encoder.header()]
        for record in iter_matching(self.session, self.where, self.through_seq):
            pending.append(self.encoder.line(record_as_dict(record, self.unknown_after)))
            self.count += 1
            self.first_seq = self.first_seq or record.seq
            self.last_seq = record.seq
            if len(pending) >= per_chunk:
                yield self._emit(pending)
                pending = []
        if chunk := self._emit(pending):
            yield chunk

    def _emit(self, lines: list[bytes]) -> bytes:
        chunk = b"".join(lines)
        self._sha256.update(chunk)
        return chunk

    def manifest(self, vault: Vault) -> ExportManifest:
        """The signed manifest of everything produced so far."""
        manifest = ExportManifest(
            format=self.encoder.format,
            filters=self.where.described(),
            count=self.count,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            through_seq=self.through_seq,
            sha256=self._sha256.hexdigest(),
            created_at=utcnow().isoformat(),
        )
        return manifest.signed(self.session, vault)


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

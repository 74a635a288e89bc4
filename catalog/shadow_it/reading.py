"""Reading a log file line by line, in constant memory, whether plain or gzip-compressed,
while fingerprinting what was read so a later scan can tell the same log apart.

A log is recognised by the digest of its first 4 KiB (its *head*); a scan records how
many lines it read and the digest of all of them. Reading a log whose head is known, the
reader checks whether its first lines are exactly the lines read before (the same file
again, a grown file, or the same content recompressed by rotation): the scan then counts
only the lines after them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 4096
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class KnownLog:
    """What an earlier scan read of a log: its first ``lines`` lines had ``digest``."""

    id: int
    lines: int
    digest: str


def open_text_bytes(path: Path, raw: io.BufferedReader) -> io.BufferedIOBase:
    """The file's bytes, decompressed if it is gzip (by its magic number, not its name)."""
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def first_lines(path: Path, count: int = 20) -> list[str]:
    with open(path, "rb") as raw:
        stream = open_text_bytes(path, raw)
        lines = []
        for line in stream:
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if len(lines) == count:
                break
        return lines


class LogReader:
    def __init__(self, path: Path, known: Callable[[str], KnownLog | None]) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._known = known
        self._raw: io.BufferedReader | None = None
        self.line_count = 0
        #: bytes of text read (decompressed), for a pipe whose position cannot be asked
        self.bytes_read = 0
        self._seekable = True
        self.head_digest: str | None = None
        self.digest: str | None = None
        #: the earlier scan whose lines this log starts with, once that is certain
        self.matched: KnownLog | None = None
        #: the earlier scan this log may continue, while its first lines are being compared
        self.candidate: KnownLog | None = None
        #: lines up to this one may turn out to have been counted by an earlier scan
        self.boundary = 0

    @property
    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for a gzip file)."""
        if self._raw is None or not self._seekable:
            return self.bytes_read
        return self.size if self._raw.closed else self._raw.tell()

    def lines(self) -> Iterator[tuple[int, str]]:
        hasher, head = hashlib.sha256(), hashlib.sha256()
        head_size = 0
        with open(self.path, "rb") as self._raw:
            self._seekable = self._raw.seekable()
            for line in open_text_bytes(self.path, self._raw):
                self.line_count += 1
                self.bytes_read += len(line)
                hasher.update(line)
                if self.head_digest is None:
                    head.update(line[: HEAD_BYTES - head_size])
                    head_size += len(line)
                    if head_size >= HEAD_BYTES:
                        self._head_complete(head.hexdigest())
                self._compare(hasher)
                yield self.line_count, _text(line)
            if self.head_digest is None:
                self._head_complete(head.hexdigest())
                self._compare(hasher)
        self.digest = hasher.hexdigest()

    def _head_complete(self, digest: str) -> None:
        self.head_digest = digest
        self.candidate = self._known(digest)
        self.boundary = self.candidate.lines if self.candidate else 0

    def _compare(self, hasher) -> None:
        if self.candidate is not None and self.candidate.lines == self.line_count:
            if hasher.hexdigest() == self.candidate.digest:
                self.matched = self.candidate
            self.candidate = None

    def undecided(self, line: int) -> bool:
        """Whether ``line`` may yet turn out to have been counted by an earlier scan."""
        return self.head_digest is None or line <= self.boundary


def _text(line: bytes) -> str:
    """The line as text; bytes that are not UTF-8, and NULs (which no database column
    stores), become U+FFFD."""
    return line.decode("utf-8", "replace").replace("\x00", "\ufffd")

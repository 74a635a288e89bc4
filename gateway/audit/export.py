"""Exchange records as plain dictionaries, and their encodings for exports (JSON lines, CSV)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from gateway.audit.models import ExchangeRecord, Outcome
from gateway.config import Config
from gateway.db import utcnow

OUTCOME_UNKNOWN = "outcome_unknown"
#: Beyond the longest call a vendor may take, before a pending record counts as unknown.
GRACE = timedelta(seconds=30)
FORMATS = ("jsonl", "csv")
MEDIA_TYPES = {"jsonl": "application/jsonl", "csv": "text/csv"}

FIELDS = (
    "seq",
    "request_id",
    "started_at",
    "completed_at",
    "client_id",
    "department",
    "tool",
    "operation",
    "method",
    "path",
    "purpose",
    "data_categories",
    "categories_stripped",
    "subject_count",
    "consent_event_ids",
    "country",
    "transfer_basis",
    "decision",
    "reasons",
    "policy_version",
    "outcome",
    "status",
    "upstream_status",
    "retries",
    "error",
    "latency_ms",
    "upstream_latency_ms",
    "bytes_in",
    "bytes_out",
)


def unknown_outcome_after(now: datetime, longest_call_seconds: float) -> datetime:
    """Records started before this and still pending will never complete."""
    return now - timedelta(seconds=longest_call_seconds) - GRACE


def unknown_outcome_cutoff(config: Config) -> datetime:
    """:func:`unknown_outcome_after` now, for the vendor timeouts configured."""
    return unknown_outcome_after(
        utcnow(), config.upstream_connect_timeout + config.upstream_read_timeout
    )


def record_as_dict(record: ExchangeRecord, unknown_after: datetime) -> dict:
    row = {name: getattr(record, name) for name in FIELDS}
    for name in ("started_at", "completed_at"):
        if row[name] is not None:
            row[name] = row[name].isoformat()
    stalled = record.outcome is Outcome.PENDING and record.started_at < unknown_after
    row["outcome"] = OUTCOME_UNKNOWN if stalled else record.outcome.value
    return row


class RecordEncoder:
    """Turns record dictionaries into the lines of an export file, as UTF-8 bytes."""

    def __init__(self, file_format: str) -> None:
        if file_format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.format = file_format

    def header(self) -> bytes:
        return self._csv_line(FIELDS) if self.format == "csv" else b""

    def line(self, row: dict) -> bytes:
        if self.format == "jsonl":
            return (json.dumps(row, ensure_ascii=False) + "\n").encode()
        return self._csv_line([_cell(row[name]) for name in FIELDS])

    @staticmethod
    def _csv_line(values) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        return buffer.getvalue().encode()


def _cell(value) -> str:
    """Lists and objects as JSON text in their cell; nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)

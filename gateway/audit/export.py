"""Exchange records as plain dictionaries, for JSON lines and CSV exports."""

from __future__ import annotations

from gateway.audit.models import ExchangeRecord

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
    "error",
    "latency_ms",
    "upstream_latency_ms",
    "bytes_in",
    "bytes_out",
)


def record_as_dict(record: ExchangeRecord) -> dict:
    row = {name: getattr(record, name) for name in FIELDS}
    for name in ("started_at", "completed_at"):
        if row[name] is not None:
            row[name] = row[name].isoformat()
    row["outcome"] = record.outcome.value
    return row

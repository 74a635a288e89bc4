"""Exchange records as plain dictionaries, for JSON lines and CSV exports."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.audit.models import ExchangeRecord, Outcome

OUTCOME_UNKNOWN = "outcome_unknown"
#: Beyond the longest call a vendor may take, before a pending record counts as unknown.
GRACE = timedelta(seconds=30)

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


def unknown_outcome_after(now: datetime, longest_call_seconds: float) -> datetime:
    """Records started before this and still pending will never complete."""
    return now - timedelta(seconds=longest_call_seconds) - GRACE


def record_as_dict(record: ExchangeRecord, unknown_after: datetime) -> dict:
    row = {name: getattr(record, name) for name in FIELDS}
    for name in ("started_at", "completed_at"):
        if row[name] is not None:
            row[name] = row[name].isoformat()
    stalled = record.outcome is Outcome.PENDING and record.started_at < unknown_after
    row["outcome"] = OUTCOME_UNKNOWN if stalled else record.outcome.value
    return row

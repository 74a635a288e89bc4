"""The shapes of the auditors' answers, as the OpenAPI document publishes them.

Kept apart from the views (``gateway.api.audit``) because they are long and change for
a different reason: what a record or report holds, not how it is asked for.
"""

from __future__ import annotations

from gateway.api.operations import api_spec
from gateway.audit.queries import KINDS

TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
NUMBER = {"type": "integer"}
NULLABLE_NUMBER = {"type": ["integer", "null"]}
TEXTS = {"type": "array", "items": TEXT}
NUMBERS = {"type": "array", "items": NUMBER}
DECISION = {"enum": ["allow", "redact", "deny"]}


def _object(properties: dict, required: tuple[str, ...] = (), **more) -> dict:
    shape = {"type": "object", **more}
    if required:
        shape["required"] = list(required)
    shape["properties"] = properties
    return shape


def _list_of(item: dict) -> dict:
    return {"type": "array", "items": item}


REASON = _object({"rule": TEXT, "message": TEXT})

EXCHANGE_RECORD = api_spec.schema(
    "ExchangeRecord",
    _object(
        {
            "seq": NUMBER,
            "request_id": TEXT,
            "started_at": TIME,
            "completed_at": NULLABLE_TIME,
            "client_id": NULLABLE_TEXT,
            "department": NULLABLE_TEXT,
            "tool": NULLABLE_TEXT,
            "operation": NULLABLE_TEXT,
            "method": TEXT,
            "path": TEXT,
            "purpose": NULLABLE_TEXT,
            "data_categories": TEXTS,
            "categories_stripped": TEXTS,
            "subject_count": NUMBER,
            "consent_event_ids": NUMBERS,
            "country": NULLABLE_TEXT,
            "transfer_basis": NULLABLE_TEXT,
            "decision": DECISION,
            "reasons": _list_of(REASON),
            "policy_version": NULLABLE_TEXT,
            "outcome": {"enum": ["completed", "pending", "outcome_unknown"]},
            "status": NULLABLE_NUMBER,
            "upstream_status": NULLABLE_NUMBER,
            "retries": {**NULLABLE_NUMBER, "description": "times the vendor call was tried again"},
            "error": NULLABLE_TEXT,
            "latency_ms": {"type": ["number", "null"]},
            "upstream_latency_ms": {"type": ["number", "null"]},
            "bytes_in": NUMBER,
            "bytes_out": NULLABLE_NUMBER,
        },
        description="One exchange; never payloads, secrets or raw identifiers.",
    ),
)

EXPORT_MANIFEST = api_spec.schema(
    "ExportManifest",
    _object(
        {
            "format": {"enum": ["jsonl", "csv"]},
            "filters": {"type": "object"},
            "count": NUMBER,
            "first_seq": NULLABLE_NUMBER,
            "last_seq": NULLABLE_NUMBER,
            "through_seq": {**NUMBER, "description": "the head of the log when the export began"},
            "sha256": {**TEXT, "description": "of the exported file's bytes"},
            "created_at": TIME,
            "key_id": TEXT,
            "public_key": {**TEXT, "description": "raw Ed25519 public key, base64"},
            "signature": {**TEXT, "description": "base64"},
        },
        description="Signed with the gateway's Ed25519 audit key over the canonical JSON "
        "(sorted keys, no white space) of every field but `signature`.",
    ),
)

EXCHANGE_PAGE = _object(
    {"items": _list_of(EXCHANGE_RECORD), "next_cursor": NULLABLE_TEXT},
    ("items", "next_cursor"),
)

PERSON_REPORT = _object(
    {
        "subject_key": TEXT,
        "recipients": _list_of(
            _object(
                {
                    "tool": NULLABLE_TEXT,
                    "country": NULLABLE_TEXT,
                    "transfer_basis": NULLABLE_TEXT,
                    "first_at": TIME,
                    "last_at": TIME,
                    "exchanges": NUMBER,
                    "data_categories": TEXTS,
                    "purposes": TEXTS,
                    "consent_event_ids": NUMBERS,
                },
                (
                    "tool",
                    "first_at",
                    "last_at",
                    "exchanges",
                    "data_categories",
                    "purposes",
                    "consent_event_ids",
                ),
            )
        ),
        "exchanges": _list_of(
            _object(
                {
                    "seq": NUMBER,
                    "request_id": TEXT,
                    "at": TIME,
                    "tool": NULLABLE_TEXT,
                    "operation": NULLABLE_TEXT,
                    "purpose": NULLABLE_TEXT,
                    "data_categories": TEXTS,
                    "decision": DECISION,
                    "dropped": {"type": "boolean"},
                    "delivery": {"enum": ["received", "possibly_received", "not_sent"]},
                },
                ("seq", "request_id", "at", "decision", "dropped", "delivery"),
            )
        ),
    },
    ("subject_key", "recipients", "exchanges"),
)

PROCESSING_RECORD = _object(
    {
        "since": TIME,
        "activities": _list_of(
            _object(
                {
                    "tool": TEXT,
                    "name": TEXT,
                    "status": TEXT,
                    "connector": NULLABLE_TEXT,
                    "country": NULLABLE_TEXT,
                    "transfer_basis": NULLABLE_TEXT,
                    "retention": NULLABLE_TEXT,
                    "data_subjects": TEXTS,
                    "departments": TEXTS,
                    "purposes": TEXTS,
                    "data_categories": TEXTS,
                    "seen": _object(
                        {
                            "exchanges": NUMBER,
                            "people": NUMBER,
                            "first_at": NULLABLE_TIME,
                            "last_at": NULLABLE_TIME,
                        },
                        ("exchanges", "people"),
                    ),
                    "undeclared": _object({"purposes": TEXTS, "data_categories": TEXTS}),
                },
                ("tool", "name", "status", "seen", "undeclared"),
            )
        ),
    },
    ("since", "activities"),
)

WITHDRAWAL_CHECK = _object(
    {
        "since": NULLABLE_TEXT,
        "people_with_withdrawals": NUMBER,
        "exchanges_checked": NUMBER,
        "violations": _list_of(
            _object(
                {
                    "seq": NUMBER,
                    "request_id": TEXT,
                    "at": TIME,
                    "tool": NULLABLE_TEXT,
                    "purpose": NULLABLE_TEXT,
                    "subject_key": TEXT,
                    "withdrawal_event_id": NUMBER,
                    "withdrawn_at": TIME,
                    "withdrawal_recorded_at": TIME,
                },
                ("seq", "request_id", "at", "subject_key", "withdrawal_event_id"),
            )
        ),
    },
    ("since", "people_with_withdrawals", "exchanges_checked", "violations"),
)

AUDITORS_TRAIL = _object(
    {
        "items": _list_of(
            _object(
                {
                    "id": NUMBER,
                    "at": TIME,
                    "actor": TEXT,
                    "kind": {"enum": list(KINDS)},
                    "parameters": {"type": "object"},
                    "result_count": NULLABLE_NUMBER,
                    "has_manifest": {"type": "boolean"},
                },
                ("id", "at", "actor", "kind", "parameters", "has_manifest"),
            )
        )
    },
    ("items",),
)

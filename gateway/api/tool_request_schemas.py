"""The shapes of the tool-request API: bodies it reads, answers it gives, query parameters.

Each is a JSON Schema registered with ``api_spec``, so the OpenAPI document publishes
exactly what ``gateway.api.tool_requests`` enforces.
"""

from __future__ import annotations

from catalog import checklist, conversation
from catalog import requests as tool_requests
from catalog.models import RequestStatus
from catalog.request_fields import CATEGORIES
from gateway.api.operations import api_spec, ref
from gateway.api.tools import GRANT_LIMITS

_STRINGS = {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 100}
_DATE = {"type": "string", "format": "date", "description": "a date such as 2027-01-31"}

NEW_REQUEST = api_spec.schema(
    "ToolRequestInput",
    {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "vendor_name",
            "website",
            "category",
            "purposes",
            "data_categories",
            "departments",
            "justification",
        ],
        "properties": {
            "vendor_name": {"type": "string", "maxLength": 200},
            "website": {"type": "string", "maxLength": 500, "description": "an http(s) address"},
            "category": {"enum": list(CATEGORIES)},
            "purposes": {**_STRINGS, "description": "fideslang data uses"},
            "data_categories": {**_STRINGS, "description": "fideslang data categories"},
            "departments": {**_STRINGS, "description": "slugs of departments you act for"},
            "justification": {"type": "string", "maxLength": 5000},
            "expected_volume": {"type": ["string", "null"], "maxLength": 200},
            "urgency": {"enum": ["low", "normal", "high", "critical"]},
            "desired_date": {"anyOf": [_DATE, {"type": "null"}]},
            "connector": {
                "type": ["string", "null"],
                "maxLength": 64,
                "description": "a shipped connector spec",
            },
        },
    },
)
MESSAGE = api_spec.schema(
    "ToolRequestMessageInput",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "body"],
        "properties": {
            "kind": {"enum": ["question", "answer", "comment"]},
            "body": {"type": "string", "maxLength": conversation.MAX_MESSAGE},
        },
    },
)
CHECKLIST = api_spec.schema("VendorChecklist", checklist.CHECKLIST_SCHEMA)
GRANT_TERMS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["department", "purposes", "data_categories"],
    "properties": {
        "department": {"type": "string", "maxLength": 64},
        "purposes": _STRINGS,
        "data_categories": _STRINGS,
        "mode": {"enum": ["strict", "redact"]},
        "expires": {"anyOf": [_DATE, {"type": "null"}]},
        "limits": GRANT_LIMITS,
    },
}
DECISION = api_spec.schema(
    "ToolRequestDecision",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["outcome", "comment"],
        "properties": {
            "outcome": {"enum": ["approve", "approve_with_conditions", "needs_info", "reject"]},
            "comment": {"type": "string", "maxLength": conversation.MAX_MESSAGE},
            "grants": {"type": "array", "maxItems": 100, "items": GRANT_TERMS},
            "review_due": {"anyOf": [_DATE, {"type": "null"}]},
            "tool": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "slug": {"type": "string", "maxLength": 64},
                    "name": {"type": "string", "maxLength": 200},
                    "connector": {"type": "string", "maxLength": 64},
                    "base_url": {"type": "string", "maxLength": 500},
                    "allow_private_network": {"type": "boolean"},
                    "description": {"type": "string", "maxLength": 5000},
                },
            },
        },
    },
)
TOOL_REQUEST = api_spec.schema(
    "ToolRequest",
    {
        "type": "object",
        "required": ["id", "vendor_name", "status", "status_since", "waited_seconds", "messages"],
        "properties": {
            "id": {"type": "integer"},
            "vendor_name": {"type": "string"},
            "website": {"type": "string"},
            "category": {"type": "string"},
            "connector": {"type": ["string", "null"]},
            "purposes": {"type": "array", "items": {"type": "string"}},
            "data_categories": {"type": "array", "items": {"type": "string"}},
            "departments": {"type": "array", "items": {"type": "string"}},
            "justification": {"type": "string"},
            "expected_volume": {"type": ["string", "null"]},
            "urgency": {"type": "string"},
            "desired_date": {"type": ["string", "null"]},
            "status": {"enum": [status.value for status in RequestStatus]},
            "status_since": {"type": "string", "format": "date-time"},
            "waited_seconds": {"type": "integer", "description": "time in the current status"},
            "requester": {"type": "string"},
            "outcome": {"type": ["string", "null"]},
            "decided_by": {"type": ["string", "null"]},
            "tool": {"type": ["string", "null"], "description": "the approved tool's slug"},
            "messages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string"},
                        "author": {"type": "string"},
                        "body": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
            "review": {
                "type": ["object", "null"],
                "description": "the vendor-risk checklist; shown to reviewers only",
                "properties": {
                    "answers": CHECKLIST,
                    "complete": {"type": "boolean"},
                    "missing": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
)
PAGE = api_spec.schema(
    "ToolRequestPage",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": TOOL_REQUEST},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
)
OVERLAP = api_spec.schema(
    "ToolRequestOverlap",
    {
        "type": "object",
        "properties": {
            "covering_tools": {
                "type": "array",
                "description": "approved tools already covering some of the purposes",
                "items": {"type": "object"},
            },
            "same_vendor": {
                "type": "array",
                "description": "catalog tools (any state) and open requests for the vendor",
                "items": {"type": "object"},
            },
        },
    },
)
DECIDED = api_spec.schema(
    "ToolRequestDecided",
    {
        "type": "object",
        "properties": {
            "request": TOOL_REQUEST,
            "tool": {"type": ["string", "null"]},
            "waiting_for_credentials": {"type": "array", "items": {"type": "string"}},
        },
    },
)
_MANY = {"type": "string", "maxLength": 200}
#: The path's request id, as ``inputs.path_id`` reads it.
BY_ID = {"request_id": {"type": "integer", "minimum": 1, "maximum": tool_requests.MAX_REQUEST_ID}}
LIST_QUERY = (
    ref("parameters", "limit"),
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
        "description": "next_cursor of the previous page",
    },
    {"name": "status", "in": "query", "schema": {"enum": [s.value for s in RequestStatus]}},
    {
        "name": "mine",
        "in": "query",
        "schema": {"enum": ["true", "false"]},
        "description": "only the requests the caller filed",
    },
)
OVERLAP_QUERY = (
    {"name": "purpose", "in": "query", "schema": _MANY, "description": "repeatable"},
    {
        "name": "category",
        "in": "query",
        "schema": _MANY,
        "description": "data category; repeatable",
    },
    {"name": "vendor", "in": "query", "schema": _MANY},
    {"name": "website", "in": "query", "schema": {"type": "string", "maxLength": 500}},
)

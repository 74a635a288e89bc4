"""Usage in the API: ``GET /usage`` (the usage report) and ``GET /usage/housekeeping``.

Both need ``usage:read`` (IT and auditors). A report is one document for the whole
range (one row per tool, department, app or day, and the total), not a paged list.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, jsonify, request

from catalog.errors import Invalid
from catalog.usage import GROUPINGS, PERMISSION, usage_query
from gateway.api import inputs
from gateway.api.auth import guard
from gateway.api.operations import api_spec
from gateway.db import db
from gateway.usage_views import fresh_housekeeping, fresh_usage_report

_COUNT = {"type": "integer", "minimum": 0}
_MS = {"type": ["number", "null"], "description": "upper bound of the latency bucket, ms"}
USAGE_ROW = api_spec.schema(
    "UsageRow",
    {
        "type": "object",
        "required": ["key", "calls", "allowed", "redacted", "denied", "pending", "people"],
        "properties": {
            "key": {
                "type": ["string", "null"],
                "description": "tool slug, department slug, app client id or UTC day",
            },
            **{
                name: _COUNT
                for name in (
                    "calls",
                    "allowed",
                    "redacted",
                    "denied",
                    "pending",
                    "completed",
                    "records_sent",
                    "people",
                    "vendor_errors",
                    "bytes_in",
                    "bytes_out",
                )
            },
            "categories": {"type": "object", "additionalProperties": _COUNT},
            "top_refusals": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"rule": {"type": "string"}, "calls": _COUNT},
                },
            },
            "p50_ms": _MS,
            "p95_ms": _MS,
        },
    },
)
USAGE_REPORT = api_spec.schema(
    "UsageReport",
    {
        "type": "object",
        "required": ["since", "until", "by", "rows", "total"],
        "properties": {
            "since": {"type": "string", "format": "date"},
            "until": {"type": "string", "format": "date"},
            "by": {"enum": list(GROUPINGS)},
            "rows": {"type": "array", "items": USAGE_ROW},
            "total": USAGE_ROW,
        },
    },
)
HOUSEKEEPING = api_spec.schema(
    "Housekeeping",
    {
        "type": "object",
        "required": ["today", "days", "unused_tools", "unused_grants", "silent_apps"],
        "properties": {
            "today": {"type": "string", "format": "date"},
            "days": {"type": "integer"},
            **{
                name: {"type": "array", "items": {"type": "object"}}
                for name in (
                    "unused_tools",
                    "unused_grants",
                    "silent_apps",
                    "reviews_due",
                    "expiring_grants",
                    "contracts",
                )
            },
        },
    },
)
_DAY = {"type": "string", "format": "date", "maxLength": 10}
_SLUG = {"type": "string", "maxLength": 64}


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/usage",
        guard,
        summary="Usage per tool, department, app or day over a range of UTC days",
        permission=PERMISSION,
        query=(
            {"name": "since", "in": "query", "schema": _DAY, "description": "default: 29 days ago"},
            {"name": "until", "in": "query", "schema": _DAY, "description": "default: today"},
            {"name": "by", "in": "query", "schema": {"enum": list(GROUPINGS)}},
            {"name": "tool", "in": "query", "schema": _SLUG},
            {"name": "department", "in": "query", "schema": _SLUG},
            {"name": "app", "in": "query", "schema": _SLUG},
        ),
        answers={200: ("The usage report", USAGE_REPORT)},
        tag="usage",
    )
    def get_usage():
        try:
            query = usage_query(
                _day("since"),
                _day("until"),
                request.args.get("by") or None,
                **{name: request.args.get(name) for name in ("tool", "department", "app")},
            )
        except Invalid as exc:  # a query, not a body: 400 like every bad query
            problems = "; ".join(f"{e['pointer'][1:]} {e['message']}" for e in exc.errors)
            raise inputs.invalid_query(problems) from None
        return jsonify(fresh_usage_report(db.session, query).as_dict())

    @api_spec.operation(
        bp,
        "GET",
        "/usage/housekeeping",
        guard,
        summary="Idle tools, grants and apps; re-reviews and expiries due; contracts vs use",
        permission=PERMISSION,
        query=(
            {
                "name": "days",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 3660},
            },
        ),
        answers={200: ("The housekeeping lists", HOUSEKEEPING)},
        tag="usage",
    )
    def get_housekeeping():
        days = inputs.query_integer("days", 30, 1, 3660)
        return jsonify(fresh_housekeeping(db.session, date.today(), days).as_dict())


def _day(name: str) -> date | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise inputs.invalid_query(f"{name} must be a date, YYYY-MM-DD") from None

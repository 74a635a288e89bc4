"""The history of changes in the API: search it, a page at a time, or export it.

Both need ``history:read`` (IT and auditors). Filters: ``object_type``, ``object_id``,
``actor`` (id or label), ``action``, ``source``, ``since`` and ``until`` (ISO 8601 date or
time, UTC unless zoned). The export streams every matching change, oldest first, as JSON
Lines or CSV.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request, stream_with_context

from catalog.history import HistoryFilter, all_changes, history_page
from catalog.history_export import FORMATS, MEDIA_TYPES, export_lines
from gateway.api import inputs
from gateway.api.auth import guard
from gateway.api.components import PAGE_QUERY
from gateway.api.operations import api_spec
from gateway.db import db, utcnow

PERMISSION = "history:read"
_TEXT = {"type": "string", "maxLength": 320}
CHANGE = api_spec.schema(
    "Change",
    {
        "type": "object",
        "required": ["id", "occurred_at", "actor", "object", "action", "source"],
        "properties": {
            "id": {"type": "integer"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "actor": {
                "type": "object",
                "properties": {"kind": _TEXT, "id": _TEXT, "label": _TEXT},
            },
            "object": {
                "type": "object",
                "properties": {"type": _TEXT, "id": _TEXT, "label": _TEXT},
            },
            "action": {"type": "string"},
            "before": {"type": ["object", "null"]},
            "after": {"type": ["object", "null"]},
            "source": {"type": "string"},
        },
    },
)
CHANGE_LIST = api_spec.schema(
    "ChangeList",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": CHANGE},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
)
_WHEN = {
    "type": "string",
    "maxLength": 40,
    "description": "an ISO 8601 date or time (UTC unless zoned)",
}
FILTERS = (
    {"name": "object_type", "in": "query", "schema": _TEXT, "description": "tool, grant, app, ..."},
    {"name": "object_id", "in": "query", "schema": _TEXT, "description": "a tool's slug, ..."},
    {"name": "actor", "in": "query", "schema": _TEXT, "description": "the actor's id or label"},
    {"name": "action", "in": "query", "schema": _TEXT, "description": "created, suspended, ..."},
    {"name": "source", "in": "query", "schema": _TEXT, "description": "portal, api, apply, ..."},
    {"name": "since", "in": "query", "schema": _WHEN},
    {"name": "until", "in": "query", "schema": _WHEN},
)


def history_filter(args) -> HistoryFilter:
    """The filter a query string asks for (the portal's history page reads the same)."""
    return HistoryFilter(
        object_type=args.get("object_type") or None,
        object_id=args.get("object_id") or None,
        actor=args.get("actor") or None,
        action=args.get("action") or None,
        source=args.get("source") or None,
        since=_moment(args, "since"),
        until=_moment(args, "until"),
    )


def _moment(args, name: str) -> datetime | None:
    text = args.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise inputs.invalid_query(f"{name} must be an ISO 8601 date or time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/history",
        guard,
        summary="The history of changes, newest first",
        permission=PERMISSION,
        query=(
            *FILTERS,
            *PAGE_QUERY,
        ),
        answers={200: ("A page of changes", CHANGE_LIST)},
        tag="history",
    )
    def list_history():
        page = history_page(
            db.session,
            history_filter(request.args),
            inputs.query_integer("limit", 50, 1, 500),
            request.args.get("cursor"),
        )
        return jsonify(
            items=[event.as_dict() for event in page.events], next_cursor=page.next_cursor
        )

    @api_spec.operation(
        bp,
        "GET",
        "/history/export",
        guard,
        summary="Every matching change, oldest first, as JSON Lines or CSV",
        permission=PERMISSION,
        query=(
            *FILTERS,
            {"name": "format", "in": "query", "schema": {"enum": list(FORMATS)}},
        ),
        answers={200: ("The changes, one per line (JSON Lines or CSV)", {"type": "string"})},
        media_type=tuple(MEDIA_TYPES.values()),
        tag="history",
    )
    def export_history():
        where = history_filter(request.args)
        file_format = request.args.get("format", "jsonl")
        session = db.session
        lines = export_lines(all_changes(session, where), file_format)
        name = f"history-{utcnow():%Y%m%dT%H%M%S}.{file_format}"
        return Response(
            stream_with_context(lines),
            mimetype=MEDIA_TYPES[file_format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

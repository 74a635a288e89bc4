"""Shadow-IT findings in the API: a filtered page at a time, one finding, marking it known
or ignored, the export (JSON or CSV), and the unknown names for IT to classify.

Every operation needs ``shadow_it:review`` (IT reviewers and admins): findings name
employees and their addresses.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, stream_with_context

from catalog.shadow_it.findings import (
    EXPORT_FORMATS,
    FindingFilter,
    all_findings,
    export_findings,
    finding_as_dict,
    findings_page,
    get_finding,
    get_unknown,
    set_status,
    set_unknown_status,
    unknown_as_dict,
    unknown_names,
)
from catalog.shadow_it.models import CatalogState, FindingStatus
from gateway.api import inputs
from gateway.api.auth import current_actor, guard
from gateway.api.components import PAGE_QUERY
from gateway.api.operations import api_spec
from gateway.db import db, utcnow

PERMISSION = "shadow_it:review"
SOURCE = "api"
TAG = "shadow-it"
_TEXT = {"type": "string", "maxLength": 200}
_TIME = {"type": "string", "format": "date-time"}
_STATUS = {"enum": [status.value for status in FindingStatus]}
_STATE = {"enum": [state.value for state in CatalogState]}
FINDING = api_spec.schema(
    "ShadowItFinding",
    {
        "type": "object",
        "required": ["id", "vendor", "department", "state", "status", "first_seen", "last_seen"],
        "properties": {
            "id": {"type": "integer"},
            "vendor": {
                "type": "object",
                "required": ["slug", "name"],
                "properties": {
                    "slug": _TEXT,
                    "name": _TEXT,
                    "category": {"type": ["string", "null"]},
                },
            },
            "department": {"type": ["string", "null"]},
            "state": _STATE,
            "status": _STATUS,
            "first_seen": _TIME,
            "last_seen": _TIME,
            "requests": {"type": "integer"},
            "bytes": {"type": "integer"},
            "spend": {
                "type": "object",
                "description": "currency → amount as a decimal string",
                "additionalProperties": {"type": "string"},
            },
            "distinct_sources": {"type": "integer"},
            "distinct_users": {"type": "integer"},
            "distinct_capped": {"type": "boolean"},
            "sources": {"type": "array", "items": {"type": "string"}},
            "users": {"type": "array", "items": {"type": "string"}},
            "kinds": {"type": "array", "items": {"enum": ["web", "app", "api", "merchant"]}},
            "tool": {"type": ["string", "null"]},
            "request_id": {"type": ["integer", "null"]},
        },
    },
)
FINDING_LIST = api_spec.schema(
    "ShadowItFindingList",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": FINDING},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
)
STATUS_CHANGE = api_spec.schema(
    "ShadowItStatusChange",
    {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {"status": _STATUS},
    },
)
UNKNOWN = api_spec.schema(
    "ShadowItUnknown",
    {
        "type": "object",
        "required": ["id", "kind", "name", "hits", "status"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": ["domain", "merchant"]},
            "name": {"type": "string"},
            "hits": {"type": "integer"},
            "first_seen": _TIME,
            "last_seen": _TIME,
            "status": _STATUS,
        },
    },
)
UNKNOWN_LIST = api_spec.schema(
    "ShadowItUnknownList",
    {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": UNKNOWN}},
    },
)
FILTERS = (
    {"name": "status", "in": "query", "schema": _STATUS},
    {"name": "state", "in": "query", "schema": _STATE},
    {"name": "department", "in": "query", "schema": _TEXT, "description": "a department slug"},
    {"name": "vendor", "in": "query", "schema": _TEXT, "description": "a vendor slug"},
)
_ID = {"finding_id": {"type": "integer", "minimum": 1}}


def finding_filter(args) -> FindingFilter:
    """The filter a query string asks for (the portal's findings page reads the same)."""
    return FindingFilter(
        status=args.get("status") or None,
        state=args.get("state") or None,
        department=args.get("department") or None,
        vendor=args.get("vendor") or None,
    )


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/shadow-it/findings",
        guard,
        summary="Shadow-IT findings, most recently seen first",
        permission=PERMISSION,
        query=(
            *FILTERS,
            *PAGE_QUERY,
        ),
        answers={200: ("A page of findings", FINDING_LIST)},
        tag=TAG,
    )
    def list_shadow_it_findings():
        page = findings_page(
            db.session,
            finding_filter(request.args),
            inputs.query_integer("limit", 50, 1, 500),
            request.args.get("cursor"),
        )
        return jsonify(
            items=[finding_as_dict(item) for item in page.findings], next_cursor=page.next_cursor
        )

    @api_spec.operation(
        bp,
        "GET",
        "/shadow-it/findings/export",
        guard,
        summary="Every matching finding, as a JSON array or CSV",
        permission=PERMISSION,
        query=(
            *FILTERS,
            {"name": "format", "in": "query", "schema": {"enum": list(EXPORT_FORMATS)}},
        ),
        answers={200: ("The findings", {"type": ["array", "string"]})},
        media_type=tuple(EXPORT_FORMATS.values()),
        tag=TAG,
    )
    def export_shadow_it_findings():
        where = finding_filter(request.args)
        file_format = request.args.get("format", "json")
        chunks = export_findings(all_findings(db.session, where), file_format)
        name = f"shadow-it-findings-{utcnow():%Y%m%dT%H%M%S}.{file_format}"
        return Response(
            stream_with_context(chunks),
            mimetype=EXPORT_FORMATS[file_format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api_spec.operation(
        bp,
        "GET",
        "/shadow-it/findings/{finding_id}",
        guard,
        summary="One finding",
        permission=PERMISSION,
        path_schemas=_ID,
        answers={200: ("The finding", FINDING)},
        tag=TAG,
    )
    def get_shadow_it_finding(finding_id: str):
        finding = get_finding(db.session, inputs.path_id(finding_id, "finding"))
        return jsonify(finding_as_dict(finding))

    @api_spec.operation(
        bp,
        "PATCH",
        "/shadow-it/findings/{finding_id}",
        guard,
        summary="Mark a finding known (being dealt with), ignored, or new again",
        permission=PERMISSION,
        path_schemas=_ID,
        body=STATUS_CHANGE,
        answers={200: ("The finding as marked", FINDING)},
        tag=TAG,
    )
    def patch_shadow_it_finding(finding_id: str):
        body = inputs.json_body()
        inputs.check_body(body, "ShadowItStatusChange")
        finding = get_finding(db.session, inputs.path_id(finding_id, "finding"))
        set_status(db.session, current_actor(), SOURCE, finding, body["status"])
        db.session.commit()
        return jsonify(finding_as_dict(finding))

    @api_spec.operation(
        bp,
        "GET",
        "/shadow-it/unknown",
        guard,
        summary="Domains and merchant names no vendor claims, seen often, for IT to classify",
        description="The most frequent first; those IT ignored last.",
        permission=PERMISSION,
        answers={200: ("The unknown names", UNKNOWN_LIST)},
        tag=TAG,
    )
    def list_shadow_it_unknown():
        return jsonify(items=[unknown_as_dict(row) for row in unknown_names(db.session)])

    @api_spec.operation(
        bp,
        "PATCH",
        "/shadow-it/unknown/{unknown_id}",
        guard,
        summary="Classify an unknown name: known, ignored (listed last), or new again",
        permission=PERMISSION,
        path_schemas={"unknown_id": {"type": "integer", "minimum": 1}},
        body=STATUS_CHANGE,
        answers={200: ("The unknown name as classified", UNKNOWN)},
        tag=TAG,
    )
    def patch_shadow_it_unknown(unknown_id: str):
        body = inputs.json_body()
        inputs.check_body(body, "ShadowItStatusChange")
        unknown = get_unknown(db.session, inputs.path_id(unknown_id, "unknown name"))
        set_unknown_status(db.session, current_actor(), SOURCE, unknown, body["status"])
        db.session.commit()
        return jsonify(unknown_as_dict(unknown))

"""The catalog's tools in the API: browse, read, edit, suspend or retire, store credentials.

``GET /tools`` and ``GET /tools/{slug}`` need ``catalog:read`` (marketing sees approved
tools, IT every one); ``PATCH`` and ``POST .../status`` need ``reviews:write``;
``PUT .../credentials`` needs ``credentials:write`` and answers 204: no credential is
ever returned, only masked.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from catalog.browse import CatalogFilter, ToolEntry, browse, tool_entry
from catalog.connect import connection
from catalog.credentials import PERMISSION as CREDENTIALS
from catalog.credentials import masked, store_credentials
from catalog.editing import EDITABLE, edit_tool
from catalog.errors import Invalid
from catalog.lifecycle import change_status
from catalog.tools import find_tool
from gateway.api import inputs
from gateway.api.auth import current_actor, guard
from gateway.api.operations import api_spec
from gateway.catalog_context import proxy_url, specs
from gateway.db import db
from gateway.vault import vault_of

SOURCE = "api"
_TEXT = {"type": "string", "maxLength": 200}
_NULLABLE_TEXT = {"type": ["string", "null"], "maxLength": 5000}
#: Rate limits as given: one (``100/minute``), several separated by commas, or a list.
RATES = {
    "type": ["string", "array", "null"],
    "maxLength": 500,
    "items": {"type": "string", "maxLength": 100},
    "maxItems": 10,
    "description": "calls per unit, like 100/minute; units: second, minute, hour, day, "
    "month (30 days), year",
}
GRANT_LIMITS = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {"per_app": RATES, "per_department": RATES},
    "description": "limits of each app of the department (per_app) and of the department "
    "as a whole (per_department)",
}

GRANT_TERMS = api_spec.schema(
    "GrantTerms",
    {
        "type": "object",
        "properties": {
            "department": {"type": "string"},
            "tool": {"type": "string"},
            "purposes": {"type": "array", "items": {"type": "string"}},
            "data_categories": {"type": "array", "items": {"type": "string"}},
            "mode": {"enum": ["strict", "redact"]},
            "expires": {"type": ["string", "null"], "format": "date"},
            "limits": GRANT_LIMITS,
        },
    },
)
TOOL = api_spec.schema(
    "Tool",
    {
        "type": "object",
        "required": ["slug", "name", "connector", "status", "grants", "connect"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "connector": {"type": "string"},
            "vendor": {"type": ["string", "null"], "description": "the connector's name"},
            "category": {"type": ["string", "null"]},
            "website": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]},
            "status": {"enum": ["requested", "under_review", "approved", "suspended", "retired"]},
            "status_reason": {"type": ["string", "null"]},
            "country": {"type": ["string", "null"]},
            "transfer_basis": {"type": ["string", "null"]},
            "review_due": {"type": ["string", "null"], "format": "date"},
            "waiting_for_credentials": {"type": "boolean"},
            "rate_limits": {"type": "array", "items": {"type": "string"}},
            "vendor_quota": {"type": "array", "items": {"type": "string"}},
            "limits_on_store_outage": {"enum": ["open", "closed"]},
            "purposes": {"type": "array", "items": {"type": "string"}},
            "data_categories": {"type": "array", "items": {"type": "string"}},
            "grants": {"type": "array", "items": GRANT_TERMS},
            "connect": {
                "type": "object",
                "properties": {
                    "base_url": {"type": "string"},
                    "key_locations": {"type": "array", "items": {"type": "string"}},
                    "example": {"type": ["string", "null"]},
                    "docs": {"type": ["string", "null"]},
                },
            },
            "credentials": {
                "type": "object",
                "description": "only for credentials:write: each field masked, or null if unset",
                "additionalProperties": {"type": ["string", "null"]},
            },
        },
    },
)
TOOL_LIST = api_spec.schema(
    "ToolList",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": TOOL},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
)
TOOL_CHANGES = api_spec.schema(
    "ToolChanges",
    {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "name": _TEXT,
            "category": {"type": ["string", "null"], "maxLength": 40},
            "website": {"type": ["string", "null"], "maxLength": 500},
            "description": _NULLABLE_TEXT,
            "base_url": {"type": ["string", "null"], "maxLength": 500},
            "allow_private_network": {"type": "boolean"},
            "country": {"type": ["string", "null"], "maxLength": 2},
            "transfer_basis": {"enum": ["adequacy", "dpf", "scc", "none", None]},
            "review_due": {"type": ["string", "null"], "format": "date"},
            "retention": {"type": ["string", "null"], "maxLength": 200},
            "iab_vendor_id": {"type": ["integer", "null"]},
            "data_subjects": {"type": "array", "items": {"type": "string"}},
            "seats": {"type": ["integer", "null"], "minimum": 0},
            "contract_volume": {"type": ["integer", "null"], "minimum": 0},
            "rate_limits": RATES,
            "vendor_quota": RATES,
            "limits_on_store_outage": {"enum": ["open", "closed"]},
        },
    },
)
CREDENTIALS_BODY = api_spec.schema(
    "ToolCredentials",
    {
        "type": "object",
        "minProperties": 1,
        "description": "the connector's credential fields; a rotation may give only some",
        "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4000},
    },
)
STATUS_CHANGE = api_spec.schema(
    "ToolStatusChange",
    {
        "type": "object",
        "required": ["status", "reason"],
        "additionalProperties": False,
        "properties": {
            "status": {
                "enum": ["suspended", "approved", "retired"],
                "description": "suspended, approved (reinstate) or retired (final)",
            },
            "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
        },
    },
)


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema or {"type": "string", "maxLength": 200},
    }


LIST_QUERY = (
    _query("q", "words of the tool's name, vendor or description"),
    _query("status", "requested, under_review, approved, suspended or retired (IT only)"),
    _query("category", "the tool's category: email, crm, analytics, ads, ..."),
    _query("purpose", "a fideslang data use; matches those below and above it"),
    _query("data_category", "a fideslang data category; matches those below and above it"),
    _query("limit", "ASCII digits only", {"type": "integer", "minimum": 1, "maximum": 100}),
    _query("cursor", "next_cursor of the previous page", {"type": "string", "maxLength": 500}),
)


def tool_document(entry: ToolEntry) -> dict:
    tool = entry.tool
    document = {
        "slug": tool.slug,
        "name": tool.name,
        "connector": tool.connector,
        "vendor": entry.spec.name if entry.spec else None,
        "category": tool.category,
        "website": tool.website,
        "description": tool.description,
        "status": tool.status.value,
        "status_reason": tool.status_reason,
        "country": tool.country,
        "transfer_basis": tool.transfer_basis.value if tool.transfer_basis else None,
        "review_due": tool.review_due.isoformat() if tool.review_due else None,
        "waiting_for_credentials": entry.waiting_for_credentials,
        "rate_limits": list(tool.rate_limits),
        "vendor_quota": list(tool.vendor_quota),
        "limits_on_store_outage": tool.limits_on_store_outage,
        "purposes": sorted(entry.purposes),
        "data_categories": sorted(entry.data_categories),
        "grants": [
            {
                "department": grant.department.slug,
                "tool": tool.slug,
                "purposes": sorted(grant.purposes),
                "data_categories": sorted(grant.data_categories),
                "mode": grant.mode.value,
                "expires": grant.expires.isoformat() if grant.expires else None,
                "limits": dict(grant.limits or {}),
            }
            for grant in entry.grants
        ],
    }
    found = connection(entry.spec, proxy_url(tool.slug))
    document["connect"] = {
        "base_url": found.base_url,
        "key_locations": list(found.key_locations),
        "example": found.example,
        "docs": found.docs,
    }
    return document


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/tools",
        guard,
        summary="Browse and search the catalog",
        permission="catalog:read",
        query=LIST_QUERY,
        answers={200: ("A page of tools", TOOL_LIST)},
        tag="catalog",
    )
    def list_tools():
        where = CatalogFilter(
            q=request.args.get("q", ""),
            status=request.args.get("status") or None,
            category=request.args.get("category") or None,
            purpose=request.args.get("purpose") or None,
            data_category=request.args.get("data_category") or None,
        )
        limit = inputs.query_integer("limit", 50, 1, 100)
        page = browse(
            db.session, current_actor(), where, specs(), limit, request.args.get("cursor")
        )
        items = [tool_document(entry) for entry in page.items]
        return jsonify(items=items, next_cursor=page.next_cursor)

    @api_spec.operation(
        bp,
        "GET",
        "/tools/{slug}",
        guard,
        summary="One tool: who may use it, for what, until when, and how to connect",
        permission="catalog:read",
        answers={200: ("The tool", TOOL)},
        tag="catalog",
    )
    def get_tool(slug: str):
        return jsonify(_tool_answer(slug))

    @api_spec.operation(
        bp,
        "PATCH",
        "/tools/{slug}",
        guard,
        summary="Change a tool's details",
        description=f"Editable: {', '.join(EDITABLE)}. Status and credentials have their own "
        "operations.",
        permission="reviews:write",
        body=TOOL_CHANGES,
        answers={200: ("The tool as changed", TOOL)},
        tag="catalog",
    )
    def patch_tool(slug: str):
        changes = inputs.json_body()
        inputs.check_body(changes, "ToolChanges")
        edit_tool(db.session, current_actor(), SOURCE, find_tool(db.session, slug), changes)
        db.session.commit()
        return jsonify(_tool_answer(slug))

    @api_spec.operation(
        bp,
        "POST",
        "/tools/{slug}/status",
        guard,
        summary="Suspend, reinstate or retire a tool, with a reason",
        description="A suspended tool's traffic is refused within a second. Retired is final.",
        permission="reviews:write",
        body=STATUS_CHANGE,
        answers={200: ("The tool in its new status", TOOL), 409: ("Not from this status", None)},
        tag="catalog",
    )
    def post_tool_status(slug: str):
        body = inputs.json_body()
        inputs.check_body(body, "ToolStatusChange")
        tool = find_tool(db.session, slug)
        change_status(db.session, current_actor(), SOURCE, tool, body["status"], body["reason"])
        db.session.commit()
        return jsonify(_tool_answer(slug))

    @api_spec.operation(
        bp,
        "PUT",
        "/tools/{slug}/credentials",
        guard,
        summary="Store or rotate the vendor credentials of a tool (write-only)",
        description="The fields are the connector's; they are never returned. The tool is "
        "callable with them at once.",
        permission=CREDENTIALS,
        body=CREDENTIALS_BODY,
        answers={204: ("Stored", None)},
        tag="catalog",
    )
    def put_tool_credentials(slug: str):
        values = inputs.json_body()
        inputs.check_body(values, "ToolCredentials")
        entry = tool_entry(db.session, current_actor(), slug, specs())
        if entry.spec is None:
            raise Invalid(f"the connector of {slug!r} cannot be loaded; fix it first")
        store_credentials(
            db.session,
            current_actor(),
            SOURCE,
            entry.tool,
            entry.spec,
            values,
            vault_of(current_app),
        )
        db.session.commit()
        return Response(status=204)


def _tool_answer(slug: str) -> dict:
    actor = current_actor()
    entry = tool_entry(db.session, actor, slug, specs())
    document = tool_document(entry)
    if actor.may(CREDENTIALS):
        document["credentials"] = masked(entry.tool, entry.spec, vault_of(current_app))
    return document

"""Grants in the API: which department may use which tool, for what, until when.

Reading needs ``catalog:read``; ``PUT`` (create or replace the terms) and ``DELETE``
need ``reviews:write``. Every change is in the history.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from catalog.editing import delete_grant, set_grant
from catalog.grant_queries import find_department, find_grant, grant_page
from catalog.grants import grant_state
from catalog.tools import find_tool
from gateway.api import inputs
from gateway.api.auth import current_actor, guard
from gateway.api.components import PAGE_QUERY
from gateway.api.operations import api_spec
from gateway.api.tools import GRANT_LIMITS, GRANT_TERMS
from gateway.db import db

SOURCE = "api"
GRANT_LIST = api_spec.schema(
    "GrantList",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": GRANT_TERMS},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
)
GRANT_BODY = api_spec.schema(
    "GrantBody",
    {
        "type": "object",
        "required": ["purposes"],
        "additionalProperties": False,
        "properties": {
            "purposes": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"type": "string", "maxLength": 200},
                "description": "fideslang data uses",
            },
            "data_categories": {
                "type": "array",
                "maxItems": 200,
                "items": {"type": "string", "maxLength": 200},
                "description": "fideslang data categories",
            },
            "mode": {"enum": ["strict", "redact"], "default": "strict"},
            "expires": {"type": ["string", "null"], "format": "date"},
            "limits": GRANT_LIMITS,
        },
    },
)
_SLUG = {"type": "string", "maxLength": 64}


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/grants",
        guard,
        summary="Grants, by department or tool",
        permission="catalog:read",
        query=(
            {"name": "department", "in": "query", "schema": _SLUG},
            {"name": "tool", "in": "query", "schema": _SLUG},
            *PAGE_QUERY,
        ),
        answers={200: ("The grants", GRANT_LIST)},
        tag="catalog",
    )
    def list_grants():
        page = grant_page(
            db.session,
            request.args.get("department") or None,
            request.args.get("tool") or None,
            inputs.query_integer("limit", 100, 1, 500),
            request.args.get("cursor"),
        )
        return jsonify(
            items=[grant_state(grant) for grant in page.grants], next_cursor=page.next_cursor
        )

    @api_spec.operation(
        bp,
        "PUT",
        "/grants/{department}/{tool}",
        guard,
        summary="Create or replace a department's grant for a tool",
        permission="reviews:write",
        body=GRANT_BODY,
        answers={200: ("The grant", GRANT_TERMS)},
        tag="catalog",
    )
    def put_grant(department: str, tool: str):
        terms = inputs.json_body()
        inputs.check_body(terms, "GrantBody")
        grant = set_grant(
            db.session,
            current_actor(),
            SOURCE,
            find_department(db.session, department),
            find_tool(db.session, tool),
            terms,
        )
        db.session.commit()
        return jsonify(grant_state(grant))

    @api_spec.operation(
        bp,
        "DELETE",
        "/grants/{department}/{tool}",
        guard,
        summary="Withdraw a department's grant for a tool",
        permission="reviews:write",
        answers={204: ("Withdrawn", None)},
        tag="catalog",
    )
    def delete_grant_view(department: str, tool: str):
        grant = find_grant(
            db.session, find_department(db.session, department), find_tool(db.session, tool)
        )
        delete_grant(db.session, current_actor(), SOURCE, grant)
        db.session.commit()
        return Response(status=204)

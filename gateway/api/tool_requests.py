"""Tool requests over the API: file one, follow it, talk about it, review and decide it.

Marketers (``requests:write``) file and answer; IT (``reviews:write``) reviews and
decides; anyone with ``catalog:read`` reads the requests of the departments they act
for. A request the caller cannot see is not found, whatever else the call would need.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request

from catalog import checklist, conversation, decisions, overlap
from catalog import requests as tool_requests
from catalog.models import RequestStatus, ToolRequest
from connectors.registry import spec_files
from gateway.api import inputs
from gateway.api.auth import actor_for, guard
from gateway.api.operations import api_spec, ref
from gateway.api.tool_request_schemas import (
    BY_ID,
    CHECKLIST,
    DECIDED,
    DECISION,
    LIST_QUERY,
    MESSAGE,
    NEW_REQUEST,
    OVERLAP,
    OVERLAP_QUERY,
    PAGE,
    TOOL_REQUEST,
)
from gateway.config import config_of
from gateway.db import db, utcnow
from policies.taxonomy import known_data_categories, known_data_uses

SOURCE = "api"


def on_visible_request(view: Callable, permission: str | None) -> Callable:
    """Finds the request of the path first (not found if the caller cannot see it, so
    nobody learns what exists elsewhere), then enforces ``permission``."""

    @wraps(view)
    def guarded(request_id: str):
        g.actor = actor_for("catalog:read")
        found = tool_requests.get_request(
            db.session, g.actor, inputs.path_id(request_id, "tool request")
        )
        g.actor.require(permission)
        return view(found)

    return guarded


def as_json(found: ToolRequest) -> dict:
    shows_review = g.actor.may("reviews:write")
    answers = found.review.answers if found.review else {}
    return {
        "id": found.id,
        **{
            key: value
            for key, value in tool_requests.request_state(found).items()
            if key not in ("checklist", "departments", "tool")
        },
        "departments": found.department_slugs,
        "tool": found.tool.slug if found.tool else None,
        "status_since": found.status_since.isoformat(),
        "waited_seconds": int((utcnow() - found.status_since).total_seconds()),
        "requester": found.requester_label,
        "decided_by": found.decided_by,
        "messages": [
            {
                "kind": message.kind.value,
                "author": message.author_label,
                "body": message.body,
                "created_at": message.created_at.isoformat(),
            }
            for message in found.messages
        ],
        "review": {
            "answers": answers,
            "complete": checklist.is_complete(found.review),
            "missing": checklist.missing_answers(answers),
        }
        if shows_review
        else None,
    }


def _connectors() -> list[str]:
    return list(spec_files(config_of(current_app).connector_folders))


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/tool-requests",
        guard,
        summary="Tool requests",
        description="Newest first; marketers see their departments' requests.",
        permission="catalog:read",
        query=LIST_QUERY,
        answers={200: ("A page of requests", PAGE)},
        tag="requests",
    )
    def list_tool_requests():
        limit = inputs.query_integer("limit", 100, 1, 1000)
        cursor = request.args.get("cursor")
        status = request.args.get("status")
        found = tool_requests.list_requests(
            db.session,
            g.actor,
            status=RequestStatus(status) if status else None,
            mine=request.args.get("mine") == "true",
            after_id=int(cursor) if cursor else None,
            limit=limit,
        )
        next_cursor = str(found[-1].id) if len(found) == limit else None
        return jsonify(items=[as_json(item) for item in found], next_cursor=next_cursor)

    @api_spec.operation(
        bp,
        "POST",
        "/tool-requests",
        guard,
        summary="Request a tool",
        permission="requests:write",
        body=NEW_REQUEST,
        answers={201: ("The request, submitted", TOOL_REQUEST)},
        tag="requests",
    )
    def submit_tool_request():
        document = inputs.json_body()
        inputs.check_body(document, "ToolRequestInput")
        filed = tool_requests.submit(db.session, g.actor, SOURCE, document, _connectors())
        db.session.commit()
        return jsonify(as_json(filed)), 201

    @api_spec.operation(
        bp,
        "GET",
        "/tool-requests/overlap",
        guard,
        summary="What already covers a tool request",
        description="Approved tools covering the purposes and data categories, "
        "and catalog tools or open requests for the same vendor.",
        permission="catalog:read",
        query=OVERLAP_QUERY,
        answers={200: ("Tools and requests that overlap", OVERLAP)},
        tag="requests",
    )
    def tool_request_overlap():
        purposes = request.args.getlist("purpose")
        categories = request.args.getlist("category")
        unknown = [p for p in purposes if p not in known_data_uses()] + [
            c for c in categories if c not in known_data_categories()
        ]
        if unknown:
            raise inputs.invalid_query(f"not a fideslang key: {', '.join(unknown[:5])}")
        folders = config_of(current_app).connector_folders
        covering = overlap.covering_tools(db.session, purposes, categories, folders)
        vendor = overlap.same_vendor(
            db.session, g.actor, request.args.get("vendor", ""), request.args.get("website", "")
        )
        return jsonify(
            covering_tools=[
                {**vars(tool), "covers_everything": tool.covers_everything} for tool in covering
            ],
            same_vendor=[vars(match) for match in vendor],
        )

    @api_spec.operation(
        bp,
        "GET",
        "/tool-requests/{request_id}",
        on_visible_request,
        path_schemas=BY_ID,
        summary="One tool request, with its conversation",
        permission="catalog:read",
        answers={200: ("The request", TOOL_REQUEST)},
        tag="requests",
    )
    def get_tool_request(found: ToolRequest):
        return jsonify(as_json(found))

    @api_spec.operation(
        bp,
        "POST",
        "/tool-requests/{request_id}/messages",
        on_visible_request,
        path_schemas=BY_ID,
        summary="Ask (IT), answer (requester) or comment",
        description="A question needs reviews:write and moves the request to "
        "needs_info; an answer moves it back to submitted.",
        permission="requests:write",
        body=MESSAGE,
        answers={
            201: ("The request with the message", TOOL_REQUEST),
            409: ref("responses", "Problem"),
        },
        tag="requests",
    )
    def post_tool_request_message(found: ToolRequest):
        document = inputs.json_body()
        inputs.check_body(document, "ToolRequestMessageInput")
        conversation.post_message(
            db.session, g.actor, SOURCE, found, document["kind"], document["body"]
        )
        db.session.commit()
        return jsonify(as_json(found)), 201

    @api_spec.operation(
        bp,
        "PUT",
        "/tool-requests/{request_id}/review",
        on_visible_request,
        path_schemas=BY_ID,
        summary="Save the vendor-risk checklist",
        description="Replaces the answers; a submitted request is then under "
        "review. Approving needs every required answer.",
        permission="reviews:write",
        body=CHECKLIST,
        answers={
            200: ("The request with its checklist", TOOL_REQUEST),
            409: ref("responses", "Problem"),
        },
        tag="requests",
    )
    def put_tool_request_review(found: ToolRequest):
        document = inputs.json_body()
        inputs.check_body(document, "VendorChecklist")
        checklist.save_review(db.session, g.actor, SOURCE, found, document)
        db.session.commit()
        return jsonify(as_json(found))

    @api_spec.operation(
        bp,
        "POST",
        "/tool-requests/{request_id}/decision",
        on_visible_request,
        path_schemas=BY_ID,
        summary="Decide a tool request",
        description="approve / approve_with_conditions create or update the "
        "tool and its grants; needs_info asks; reject closes. A decided request "
        "cannot be decided again (409).",
        permission="reviews:write",
        body=DECISION,
        answers={
            200: ("The decision", DECIDED),
            409: ref("responses", "Problem"),
        },
        tag="requests",
    )
    def decide_tool_request(found: ToolRequest):
        document = inputs.json_body()
        inputs.check_body(document, "ToolRequestDecision")
        folders = config_of(current_app).connector_folders
        result = decisions.decide(db.session, g.actor, SOURCE, found, document, folders)
        db.session.commit()
        return jsonify(
            request=as_json(found),
            tool=result.tool.slug if result.tool else None,
            waiting_for_credentials=list(result.missing_credentials),
        )

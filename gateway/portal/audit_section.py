"""The auditors' section of the portal: one "Audit" entry in the main navigation, its
pages listed in a sub-navigation, and each query recorded in the auditors' trail under
the signed-in person exactly as the API records its callers'."""

from __future__ import annotations

from flask import Response, current_app, g, request

from gateway.audit.queries import AuditQuery, api_actor, record_query
from gateway.config import config_of
from gateway.db import db
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item

PERMISSION = "audit:read"
#: (endpoint, label) of each page of the section, in the order of the sub-navigation.
PAGES = (
    ("portal.exchanges", "Exchange log"),
    ("portal.audit_person", "Person report"),
    ("portal.audit_processing", "Record of processing"),
    ("portal.audit_withdrawals", "Withdrawal check"),
    ("portal.audit_exports", "Exports"),
    ("portal.audit_chain", "Chain"),
    ("portal.audit_trail", "Auditors' trail"),
)
#: Pages of the section that are not in the sub-navigation but belong to it.
ALSO = ("portal.exchange",)
#: A person's identifier may be in the address of these pages (the searches are GET
#: forms): no other page learns it as a referrer, and no cache keeps the answers.
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

SECTION = frozenset((*(endpoint for endpoint, _ in PAGES), *ALSO))

nav_item("exchanges", "Audit", PERMISSION, 70, covers=tuple(SECTION))


def record(kind: str, parameters: dict, count: int | None = None) -> AuditQuery:
    """Adds the query to the auditors' trail (the view commits with its answer)."""
    actor = g.actor
    return record_query(
        db.session, api_actor(actor.kind, actor.id, actor.label), kind, parameters, count
    )


def pepper() -> bytes:
    """The key people's identifiers are hashed with, as the API hashes them."""
    return config_of(current_app).pepper


@bp.context_processor
def _sub_navigation() -> dict:
    return {"audit_pages": PAGES}


@bp.after_request
def _private(response: Response) -> Response:
    if request.endpoint in SECTION:
        response.headers.update(PRIVATE)
    return response

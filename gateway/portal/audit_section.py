"""The auditors' section of the portal: one "Audit" entry in the main navigation, its
pages listed in a sub-navigation, and each query recorded in the auditors' trail under
the signed-in person exactly as the API records its callers'."""

from __future__ import annotations

from flask import Response, current_app, g, request

from gateway.audit.queries import AuditQuery, api_actor, record_query
from gateway.config import config_of
from gateway.db import db
from gateway.portal.blueprint import bp
from gateway.portal.navigation import SectionPage, nav_section

PERMISSION = "audit:read"
#: The section's pages, in the order of its sub-navigation.
PAGES = (
    SectionPage("portal.exchanges", "Exchange log", PERMISSION, below=("portal.exchange",)),
    SectionPage("portal.audit_person", "Person report", PERMISSION),
    SectionPage("portal.audit_processing", "Record of processing", PERMISSION),
    SectionPage("portal.audit_withdrawals", "Withdrawal check", PERMISSION),
    SectionPage("portal.audit_exports", "Exports", PERMISSION),
    SectionPage("portal.audit_chain", "Chain", PERMISSION),
    SectionPage("portal.audit_trail", "Auditors' trail", PERMISSION),
)
#: A person's identifier may be in the address of these pages (the searches are GET
#: forms): no other page learns it as a referrer, and no cache keeps the answers.
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

SECTION = frozenset(nav_section("Audit", PERMISSION, 70, PAGES).covers())


def record(kind: str, parameters: dict, count: int | None = None) -> AuditQuery:
    """Adds the query to the auditors' trail (the view commits with its answer)."""
    actor = g.actor
    return record_query(
        db.session, api_actor(actor.kind, actor.id, actor.label), kind, parameters, count
    )


def pepper() -> bytes:
    """The key people's identifiers are hashed with, as the API hashes them."""
    return config_of(current_app).pepper


@bp.after_request
def _private(response: Response) -> Response:
    if request.endpoint in SECTION:
        response.headers.update(PRIVATE)
    return response

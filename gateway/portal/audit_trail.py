"""The auditors' own trail in the portal, and the exports with their signed manifests.

Listing the trail is not itself recorded (as in the API). An export is made by the
API's export operation (the page's form and links lead there, so the file and its
manifest come from the same code whoever asks); the list shows each export the trail
holds, with its manifest once the file was read to its end.
"""

from __future__ import annotations

from flask import render_template, request

from gateway.audit.export import FORMATS
from gateway.audit.manifest import ExportManifest
from gateway.audit.queries import KINDS, recent_queries
from gateway.audit.search import DECISIONS
from gateway.db import db
from gateway.portal import access
from gateway.portal.audit_section import PERMISSION
from gateway.portal.blueprint import bp

PER_PAGE = 50


@bp.get("/audit/trail")
@access.page(PERMISSION)
def audit_trail():
    kind = request.args.get("kind") or None
    if kind is not None and kind not in KINDS:
        kind = None
    before = _before(request.args.get("before", ""))
    queries = recent_queries(db.session, PER_PAGE + 1, kind=kind, before=before)
    return render_template(
        "portal/audit/trail.html",
        queries=queries[:PER_PAGE],
        older=queries[PER_PAGE - 1].id if len(queries) > PER_PAGE else None,
        kind=kind,
        kinds=KINDS,
        continued=before is not None,
    )


@bp.get("/audit/exports")
@access.page(PERMISSION)
def audit_exports():
    exports = recent_queries(db.session, PER_PAGE, kind="export")
    return render_template(
        "portal/audit/exports.html",
        exports=[(query, _manifest(query.manifest)) for query in exports],
        given={},
        decisions=DECISIONS,
        formats=FORMATS,
    )


def _manifest(document: str | None) -> ExportManifest | None:
    return ExportManifest.from_json(document) if document else None


def _before(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None

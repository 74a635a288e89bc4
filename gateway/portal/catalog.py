"""The catalog in the portal: search approved tools, and each tool's page.

The search is a plain GET form (it works without JavaScript); htmx refreshes only the
results as filters change. A tool's page says who may use it, for what and until when,
how to connect an app, and, for IT and auditors, what changed and who changed it.
"""

from __future__ import annotations

from flask import current_app, g, render_template, request

from catalog.browse import CatalogFilter, browse, categories, sees_every_status, tool_entry
from catalog.connect import connection
from catalog.credentials import PERMISSION as CREDENTIALS
from catalog.credentials import masked
from catalog.history import HistoryFilter, history_page
from catalog.models import ToolStatus
from catalog.vocabulary import data_category_choices, label, purpose_choices
from gateway.catalog_context import proxy_url, specs
from gateway.db import db
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item
from gateway.vault import vault_of

PAGE_SIZE = 25
#: Changes shown on a tool's page; the history page has them all.
RECENT_CHANGES = 10

nav_item("catalog", "Catalog", "catalog:read", 10)


@bp.app_template_filter("term")
def _term(key: str) -> str:
    """A fideslang key in plain words."""
    return label(key)


@bp.get("/catalog")
@access.page("catalog:read")
def catalog():
    where = CatalogFilter(
        q=request.args.get("q", "").strip()[:200],
        status=request.args.get("status") or None,
        category=request.args.get("category") or None,
        purpose=request.args.get("purpose") or None,
        data_category=request.args.get("data_category") or None,
    )
    page = browse(
        db.session, g.actor, where, specs(), PAGE_SIZE, request.args.get("cursor") or None
    )
    return render_template(
        "portal/catalog/index.html",
        where=where,
        page=page,
        categories=categories(db.session),
        purposes=purpose_choices(),
        data_categories=data_category_choices(),
        statuses=[status.value for status in ToolStatus] if sees_every_status(g.actor) else [],
    )


@bp.get("/tools/<slug>")
@access.page("catalog:read")
def tool_page(slug: str):
    entry = tool_entry(db.session, g.actor, slug, specs())
    changes = None
    if g.actor.may("history:read"):
        where = HistoryFilter(object_type="tool", object_id=slug)
        changes = history_page(db.session, where, RECENT_CHANGES)
    return render_template(
        "portal/catalog/tool.html",
        entry=entry,
        tool=entry.tool,
        connect=connection(entry.spec, proxy_url(slug)),
        credentials=masked(entry.tool, entry.spec, vault_of(current_app))
        if g.actor.may(CREDENTIALS)
        else None,
        changes=changes,
    )

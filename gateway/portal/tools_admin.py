"""IT's pages about tools: edit a tool's details (a new re-review date, say, or its rate
limits and vendor quota), suspend,
reinstate or retire it with a reason (a confirmation page says what will happen), store
vendor credentials (write-only), the re-reviews due, and the history with its export.

A refused form comes back with what was typed and each problem next to its field; a
credential typed is never sent back to the browser, not even in a refused form.
"""

from __future__ import annotations

import json
from datetime import date

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from catalog.browse import tool_entry
from catalog.credentials import PERMISSION as CREDENTIALS
from catalog.credentials import masked, store_credentials
from catalog.editing import edit_tool
from catalog.errors import Invalid
from catalog.history import history_page
from catalog.history_export import FORMATS
from catalog.lifecycle import change_status, due_for_review
from catalog.models import Tool, TransferBasis
from catalog.rate_limit_terms import STORE_OUTAGE_CHOICES
from catalog.tools import find_tool
from gateway.api.history import history_filter
from gateway.catalog_context import specs
from gateway.db import db
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item
from gateway.vault import vault_of

SOURCE = "portal"
#: A step's name in the URL -> the status it leads to and how the page words it.
STEPS = {
    "suspend": (
        "suspended",
        "Suspend",
        "Apps' calls to this tool are refused at once, on every gateway.",
    ),
    "reinstate": ("approved", "Reinstate", "Apps may call this tool again at once."),
    "retire": ("retired", "Retire", "Retiring is final: the tool cannot be used or reinstated."),
}
DUE_WITHIN_DAYS = (7, 30, 90)
#: The details a reviewer edits in the portal (the API's PATCH takes a few more).
DETAILS = (
    "name",
    "category",
    "website",
    "description",
    "country",
    "transfer_basis",
    "review_due",
    "retention",
    "seats",
    "contract_volume",
    "rate_limits",
    "vendor_quota",
    "limits_on_store_outage",
)

nav_item("history", "History", "history:read", 80)


@bp.route("/tools/<slug>/edit", methods=["GET", "POST"])
@access.page("reviews:write")
def tool_edit(slug: str):
    tool = find_tool(db.session, slug)
    typed, errors = _details(tool), {}
    if request.method == "POST":
        typed = {name: request.form.get(name, "").strip() for name in DETAILS}
        typed["limits_on_store_outage"] = request.form.get(  # a choice, never emptied
            "limits_on_store_outage", tool.limits_on_store_outage
        )
        try:
            changed = edit_tool(db.session, g.actor, SOURCE, tool, typed)
        except Invalid as refusal:
            errors = field_errors(refusal)
        else:
            db.session.commit()
            flash(f"{tool.name} saved." if changed else "Nothing changed.", "success")
            return redirect(url_for("portal.tool_page", slug=slug))
    page = render_template(
        "portal/catalog/edit.html",
        tool=tool,
        typed=typed,
        errors=errors,
        transfer_bases=[basis.value for basis in TransferBasis],
        outage_choices=STORE_OUTAGE_CHOICES,
    )
    return page, 422 if errors else 200


def _details(tool: Tool) -> dict[str, str]:
    """The tool's details as the form shows them."""
    values = {name: getattr(tool, name) for name in DETAILS}
    values["transfer_basis"] = tool.transfer_basis.value if tool.transfer_basis else None
    values["review_due"] = tool.review_due.isoformat() if tool.review_due else None
    values["rate_limits"] = ", ".join(tool.rate_limits)
    values["vendor_quota"] = ", ".join(tool.vendor_quota)
    return {name: "" if value is None else str(value) for name, value in values.items()}


@bp.route("/tools/<slug>/status/<step>", methods=["GET", "POST"])
@access.page("reviews:write")
def tool_status(slug: str, step: str):
    if step not in STEPS:
        abort(404)
    tool = find_tool(db.session, slug)
    status, verb, consequence = STEPS[step]
    reason, errors = request.form.get("reason", ""), {}
    if request.method == "POST":
        try:
            change_status(db.session, g.actor, SOURCE, tool, status, reason)
        except Invalid as refusal:
            errors = field_errors(refusal)
        else:
            db.session.commit()
            flash(f"{tool.name} is {status}.", "success")
            return redirect(url_for("portal.tool_page", slug=slug))
    page = render_template(
        "portal/catalog/status.html",
        tool=tool,
        step=step,
        verb=verb,
        consequence=consequence,
        reason=reason,
        errors=errors,
    )
    return page, 422 if errors else 200


@bp.route("/tools/<slug>/credentials", methods=["GET", "POST"])
@access.page(CREDENTIALS)
def tool_credentials(slug: str):
    entry = tool_entry(db.session, g.actor, slug, specs())
    if entry.spec is None:
        abort(404)
    errors = {}
    if request.method == "POST":
        given = {
            name: request.form[name]
            for name in sorted(entry.spec.credential_fields)
            if request.form.get(name)
        }
        try:
            store_credentials(
                db.session, g.actor, SOURCE, entry.tool, entry.spec, given, vault_of(current_app)
            )
        except Invalid as refusal:
            errors = field_errors(refusal)
        else:
            db.session.commit()
            flash(f"Credentials of {entry.tool.name} stored; apps may call it now.", "success")
            return redirect(url_for("portal.tool_page", slug=slug))
    page = render_template(
        "portal/catalog/credentials.html",
        tool=entry.tool,
        spec=entry.spec,
        stored=masked(entry.tool, entry.spec, vault_of(current_app)),
        errors=errors,
    )
    return page, 422 if errors else 200


@bp.get("/reviews-due")
@access.page("reviews:write")
def reviews_due():
    days = request.args.get("days", "30")
    within = int(days) if days.isdigit() and int(days) in DUE_WITHIN_DAYS else 30
    return render_template(
        "portal/catalog/reviews_due.html",
        tools=due_for_review(db.session, within),
        today=date.today(),
        within=within,
        choices=DUE_WITHIN_DAYS,
    )


@bp.get("/history")
@access.page("history:read")
def history():
    page = history_page(
        db.session, history_filter(request.args), 50, request.args.get("cursor") or None
    )
    filters = {name: request.args.get(name, "") for name in FILTER_NAMES}
    return render_template(
        "portal/catalog/history.html",
        page=page,
        filters=filters,
        given={name: value for name, value in filters.items() if value},
        formats=FORMATS,
    )


@bp.app_template_filter("as_json")
def _as_json(value) -> str:
    """A value of the history as JSON text, escaped by the template like any text."""
    return json.dumps(value, ensure_ascii=False)


@bp.app_template_filter("changes")
def _changes(event) -> list[tuple[str, object, object]]:
    """(field, before, after) of a change as a reader wants it: an update shows each field
    that changed; a creation or deletion only the fields that hold something."""
    before, after = event.before or {}, event.after or {}
    keys = sorted({*before, *after})
    if event.before is None or event.after is None:
        keys = [key for key in keys if before.get(key) or after.get(key)]
    return [(key, before.get(key), after.get(key)) for key in keys]


FILTER_NAMES = ("object_type", "object_id", "actor", "action", "source", "since", "until")


def field_errors(refusal: Invalid) -> dict[str, str]:
    """The refusal's problems by the name of the form field they are about ('' for the form)."""
    return {error["pointer"].lstrip("/"): error["message"] for error in refusal.errors} or {
        "": refusal.message
    }

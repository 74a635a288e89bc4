"""IT's pages for one department's grant of a tool: its purposes, data categories, mode,
expiry and limits, changed in place rather than through a new request's decision; and
withdrawing it, after a page that says what that does.

The form has the decision's grant fields (``portal/catalog/_grant_terms.html``) and goes to
the services behind the API's ``PUT`` and ``DELETE /grants/{department}/{tool}``, recorded
in the history as the portal's change; a refused form comes back with each problem next
to its field.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from catalog.editing import delete_grant, set_grant
from catalog.errors import Invalid
from catalog.grant_queries import find_department, find_grant
from catalog.models import Grant, GrantMode
from catalog.rate_limit_terms import GRANT_SCOPES
from catalog.tools import find_tool
from gateway.db import db
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.requests import field_errors, storable_form
from gateway.portal.reviews import grant_terms_typed
from gateway.portal.taxonomy_choices import data_category_groups, data_use_groups

SOURCE = "portal"
#: The fields' names are "grant-<term>".
PREFIX = "grant"


@bp.route("/tools/<slug>/grants/<department>", methods=["GET", "POST"])
@access.page("reviews:write")
def grant_edit(slug: str, department: str):
    grant = _grant(slug, department)
    tool, grantee = grant.tool, grant.department
    typed, errors = _terms(grant), {}
    if request.method == "POST":
        storable_form()
        typed = grant_terms_typed(request.form, PREFIX)
        try:
            set_grant(db.session, g.actor, SOURCE, grantee, tool, typed)
        except Invalid as refusal:
            errors = field_errors(_in_form(refusal))
        else:
            db.session.commit()
            flash(f"The grant of {grantee.name} for {tool.name} is saved.", "success")
            return redirect(url_for("portal.tool_page", slug=slug))
    page = render_template(
        "portal/catalog/grant_edit.html",
        tool=tool,
        department=grantee,
        row=typed,
        errors=errors,
        prefix=PREFIX,
        use_groups=data_use_groups(),
        category_groups=data_category_groups(),
        modes=[mode.value for mode in GrantMode],
    )
    return page, 422 if errors else 200


@bp.route("/tools/<slug>/grants/<department>/withdraw", methods=["GET", "POST"])
@access.page("reviews:write")
def grant_withdraw(slug: str, department: str):
    grant = _grant(slug, department)
    tool, grantee = grant.tool, grant.department
    if request.method == "POST":
        delete_grant(db.session, g.actor, SOURCE, grant)
        db.session.commit()
        flash(f"{grantee.name} may no longer use {tool.name}.", "success")
        return redirect(url_for("portal.tool_page", slug=slug))
    return render_template("portal/catalog/grant_withdraw.html", tool=tool, department=grantee)


def _grant(slug: str, department: str) -> Grant:
    """The department's grant of the tool; not found if either or the grant is not."""
    tool = find_tool(db.session, slug)
    return find_grant(db.session, find_department(db.session, department), tool)


def _terms(grant: Grant) -> dict:
    """The grant's terms as the form shows them."""
    limits = grant.limits or {}
    return {
        "purposes": list(grant.purposes),
        "data_categories": list(grant.data_categories),
        "mode": grant.mode.value,
        "expires": grant.expires.isoformat() if grant.expires else "",
        "limits": {scope: ", ".join(limits.get(scope, [])) for scope in GRANT_SCOPES},
    }


def _in_form(refusal: Invalid) -> list[dict]:
    """The service's problems (``/limits/per_app``) pointed at the form's fields, or at the
    form itself when none is named."""
    return [{**error, "pointer": f"/{PREFIX}{error['pointer']}"} for error in refusal.errors] or [
        {"pointer": "/form", "message": refusal.message}
    ]

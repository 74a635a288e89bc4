"""IT's shadow-IT page: what the scans found, filtered as the API filters it, with one
click to turn a finding into a prefilled tool request or to mark it known or ignored,
the unknown domains and merchants seen often, and the exports."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import flash, g, redirect, render_template, request, url_for

from catalog.errors import Invalid
from catalog.shadow_it.findings import (
    EXPORT_FORMATS,
    finding_as_dict,
    findings_page,
    get_finding,
    get_unknown,
    request_prefill,
    set_status,
    set_unknown_status,
    unknown_names,
)
from catalog.shadow_it.models import CatalogState, Finding, FindingStatus
from gateway.api.shadow_it import finding_filter
from gateway.db import db
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item

PERMISSION = "shadow_it:review"
SOURCE = "portal"
SHOWN = 200
FILTERS = ("status", "state", "department", "vendor")
#: a finding in these states can become a request (an approved tool's bypass cannot)
REQUESTABLE = {
    CatalogState.NOT_IN_CATALOG,
    CatalogState.REJECTED,
    CatalogState.SUSPENDED,
    CatalogState.RETIRED,
}

nav_item("shadow_it", "Shadow IT", PERMISSION, 75)


@bp.get("/shadow-it")
@access.page(PERMISSION)
def shadow_it():
    given = {name: request.args.get(name, "").strip() for name in FILTERS}
    try:
        page = findings_page(db.session, finding_filter(given), SHOWN, None)
    except Invalid as refused:
        return _page(given, [], refused.message), 400
    return _page(given, page.findings, None)


def _page(given: dict, findings: list[Finding], error: str | None):
    return render_template(
        "portal/shadow_it/findings.html",
        given=given,
        findings=[(finding, finding_as_dict(finding)) for finding in findings],
        request_links={f.id: _request_link(f) for f in findings if f.state in REQUESTABLE},
        unknown=unknown_names(db.session, 50),
        statuses=[status.value for status in FindingStatus],
        states=[state.value for state in CatalogState],
        formats=list(EXPORT_FORMATS),
        export_query={name: value for name, value in given.items() if value},
        error=error,
        shown=SHOWN,
        may_request=g.actor.may("requests:write"),
    )


def _request_link(finding: Finding) -> str:
    return url_for("portal.new_request") + "?" + urlencode(request_prefill(finding), doseq=True)


@bp.post("/shadow-it/<int:finding_id>/status")
@access.page(PERMISSION)
def mark_finding(finding_id: int):
    finding = get_finding(db.session, finding_id)
    status = request.form.get("status", "")
    set_status(db.session, g.actor, SOURCE, finding, status)
    db.session.commit()
    flash(
        f"{finding.vendor_name} ({finding.department or 'no department'}) is {status}.", "success"
    )
    return redirect(url_for("portal.shadow_it") + f"#finding-{finding.id}")


@bp.post("/shadow-it/unknown/<int:unknown_id>/status")
@access.page(PERMISSION)
def mark_unknown(unknown_id: int):
    unknown = get_unknown(db.session, unknown_id)
    status = request.form.get("status", "")
    set_unknown_status(db.session, g.actor, SOURCE, unknown, status)
    db.session.commit()
    flash(f"{unknown.name} is {status}.", "success")
    return redirect(url_for("portal.shadow_it") + "#unknown-title")

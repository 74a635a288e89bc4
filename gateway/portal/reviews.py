"""IT's pages for tool requests: the review queue, and per request the checklist, questions
and the decision with its grants.

The forms are read into the same plain documents the API takes (a checklist's answers,
a decision with its grants) and given to the same services; what they refuse comes back
next to the field it concerns, with what was typed kept.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from catalog import checklist, conversation, decisions, overlap
from catalog import requests as tool_requests
from catalog.errors import CatalogRefusal, Invalid
from catalog.models import DECIDED, Department, GrantMode, Outcome, ToolRequest, TransferBasis
from catalog.rate_limit_terms import GRANT_SCOPES
from gateway.config import config_of
from gateway.db import db
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item
from gateway.portal.requests import connectors, field_errors, storable_form
from gateway.portal.taxonomy_choices import data_category_groups, data_use_groups

SOURCE = "portal"
TEXT_ANSWERS = (
    "dpa_signed",
    "processing_country",
    "transfer_basis",
    "retention_terms",
    "deletion_terms",
    "security_contact",
    "notes",
)
LISTED_ANSWERS = ("subprocessors", "attachments")
NAMED_CERTIFICATIONS = ("soc2", "iso27001")
#: Empty grant rows offered below the request's own departments.
SPARE_GRANT_ROWS = 2

nav_item("review_queue", "Review queue", "reviews:write", 40)


@bp.get("/reviews")
@access.page("reviews:write")
def review_queue():
    return render_template(
        "portal/reviews/queue.html", queue=tool_requests.review_queue(db.session, g.actor)
    )


def _reviewable(request_id: int) -> ToolRequest:
    """The request, not found for anyone who cannot see it, then refused without the right;
    a form sent to it must hold only what can be stored."""
    storable_form()
    found = tool_requests.get_request(db.session, g.actor, request_id)
    g.actor.require("reviews:write")
    return found


# -- the checklist form ------------------------------------------------------------------


def checklist_form(answers: dict) -> dict:
    """Saved answers as the form's fields."""
    form = {name: answers.get(name, "") for name in TEXT_ANSWERS}
    for name in LISTED_ANSWERS:
        form[name] = "\n".join(answers.get(name, []))
    form["no_subprocessors"] = answers.get("subprocessors") == []
    for name in ("sso", "mfa"):
        form[name] = {True: "yes", False: "no"}.get(answers.get(name), "")
    for certification in answers.get("certifications", []):
        key = certification["name"]
        form[f"cert-{key}"] = True
        form[f"cert-{key}-until"] = certification.get("valid_until", "")
        form[f"cert-{key}-detail"] = certification.get("detail", "")
    return form


def checklist_answers(form) -> dict:
    """The form's fields as checklist answers; a field left empty is not answered."""
    answers = {name: form.get(name, "").strip() for name in TEXT_ANSWERS}
    answers["processing_country"] = answers["processing_country"].upper()
    for name in LISTED_ANSWERS:
        answers[name] = [line.strip() for line in form.get(name, "").splitlines() if line.strip()]
    if not answers["subprocessors"] and not form.get("no_subprocessors"):
        answers["subprocessors"] = None
    for name in ("sso", "mfa"):
        answers[name] = {"yes": True, "no": False}.get(form.get(name))
    answers["certifications"] = [
        _certification(form, key)
        for key in (*NAMED_CERTIFICATIONS, "other")
        if form.get(f"cert-{key}")
    ]
    return {name: value for name, value in answers.items() if value not in ("", None)}


def _certification(form, key: str) -> dict:
    certification = {"name": key}
    until, detail = form.get(f"cert-{key}-until", ""), form.get(f"cert-{key}-detail", "")
    if until.strip():
        certification["valid_until"] = until.strip()
    if detail.strip():
        certification["detail"] = detail.strip()
    return certification


# -- the decision form -------------------------------------------------------------------


def decision_form(found: ToolRequest, known_tools: list[str]) -> dict:
    """The decision form as first shown: the request's own terms, ready to approve, for the
    catalog tool already known for the vendor if there is one (else a new one)."""
    rows = [
        {
            "department": department.slug,
            "purposes": list(found.purposes),
            "data_categories": list(found.data_categories),
            "mode": "strict",
            "expires": "",
            "limits": _no_limits(),
        }
        for department in found.departments
    ]
    rows += [_blank_row() for _ in range(SPARE_GRANT_ROWS)]
    return {
        "outcome": "",
        "comment": "",
        "review_due": "",
        "grants": rows,
        "tool-slug": known_tools[0] if known_tools else decisions.tool_slug(found.vendor_name),
        "tool-connector": found.connector or "",
        "tool-base_url": "",
        "tool-allow_private_network": False,
    }


def _blank_row() -> dict:
    return {
        "department": "",
        "purposes": [],
        "data_categories": [],
        "mode": "strict",
        "expires": "",
        "limits": _no_limits(),
    }


def _no_limits() -> dict:
    return {scope: "" for scope in GRANT_SCOPES}


def decision_typed(form) -> dict:
    """What the reviewer typed, kept as the form shows it."""
    rows, index = [], 0
    while f"grants-{index}-department" in form:
        prefix = f"grants-{index}"
        rows.append(
            {"department": form.get(f"{prefix}-department", ""), **grant_terms_typed(form, prefix)}
        )
        index += 1
    typed = {name: form.get(name, "") for name in ("outcome", "comment", "review_due")}
    typed.update(
        {name: form.get(name, "") for name in ("tool-slug", "tool-connector", "tool-base_url")}
    )
    typed["tool-allow_private_network"] = bool(form.get("tool-allow_private_network"))
    return {**typed, "grants": rows}


def grant_terms_typed(form, prefix: str) -> dict:
    """A grant's terms as typed in the fields named ``<prefix>-<term>``
    (``portal/catalog/_grant_terms.html``), in the shape the grant services take."""
    return {
        "purposes": form.getlist(f"{prefix}-purposes"),
        "data_categories": form.getlist(f"{prefix}-data_categories"),
        "mode": form.get(f"{prefix}-mode", "strict"),
        "expires": form.get(f"{prefix}-expires", ""),
        "limits": {
            scope: form.get(f"{prefix}-limits-{scope}", "").strip() for scope in GRANT_SCOPES
        },
    }


def decision_document(typed: dict) -> tuple[dict, list[int]]:
    """The typed decision as the document the service (and the API) takes, and for each
    grant given the form row it came from (rows without a department are left out)."""
    rows = [index for index, row in enumerate(typed["grants"]) if row["department"]]
    tool = {
        "slug": typed["tool-slug"].strip(),
        "connector": typed["tool-connector"],
        "base_url": typed["tool-base_url"].strip(),
        "allow_private_network": typed["tool-allow_private_network"],
    }
    document = {
        "outcome": typed["outcome"],
        "comment": typed["comment"],
        "review_due": typed["review_due"] or None,
        "grants": [typed["grants"][index] for index in rows] or None,
        "tool": tool,
    }
    return document, rows


def _on_form_rows(errors: list[dict], rows: list[int]) -> list[dict]:
    """Problems of the n-th grant given, pointed at the form row it came from."""
    moved = []
    for error in errors:
        parts = error["pointer"].split("/")
        if len(parts) > 2 and parts[1] == "grants" and parts[2].isdigit():
            parts[2] = str(rows[int(parts[2])])
        moved.append({**error, "pointer": "/".join(parts)})
    return moved


# -- the page ----------------------------------------------------------------------------


def render_review_page(found: ToolRequest, status: int = 200, **state):
    answers = found.review.answers if found.review else {}
    folders = config_of(current_app).connector_folders
    same_vendor = overlap.same_vendor(
        db.session, g.actor, found.vendor_name, found.website, excluding_request=found.id
    )
    known_tools = [match.reference for match in same_vendor if match.kind == "tool"]
    state.setdefault("checklist", checklist_form(answers))
    state.setdefault("decision", decision_form(found, known_tools))
    return render_template(
        "portal/reviews/show.html",
        found=found,
        is_open=found.status not in DECIDED,
        missing=checklist.missing_answers(answers),
        reviewed=found.review,
        same_vendor=same_vendor,
        covering=overlap.covering_tools(db.session, found.purposes, found.data_categories, folders),
        departments=list(db.session.scalars(select(Department).order_by(Department.name))),
        connectors=connectors(),
        outcomes=[outcome.value for outcome in Outcome],
        modes=[mode.value for mode in GrantMode],
        transfer_bases=[basis.value for basis in TransferBasis],
        use_groups=data_use_groups(),
        category_groups=data_category_groups(),
        checklist_errors=field_errors(state.pop("checklist_problems", [])),
        decision_errors=field_errors(state.pop("decision_problems", [])),
        **state,
    ), status


@bp.get("/reviews/<int:request_id>")
@access.page("catalog:read")
def review_page(request_id: int):
    return render_review_page(_reviewable(request_id))


@bp.post("/reviews/<int:request_id>/checklist")
@access.page("catalog:read")
def save_checklist(request_id: int):
    found = _reviewable(request_id)
    try:
        checklist.save_review(db.session, g.actor, SOURCE, found, checklist_answers(request.form))
    except Invalid as refused:
        db.session.rollback()
        return render_review_page(
            _reviewable(request_id),
            422,
            checklist=dict(request.form.items()) | _checks(request.form),
            checklist_problems=refused.errors,
            checklist_refused=refused.message,
        )
    db.session.commit()
    flash("The checklist is saved.", "success")
    return redirect(url_for("portal.review_page", request_id=request_id) + "#checklist")


def _checks(form) -> dict:
    """Checkboxes are absent from a form when unticked; the page reads them as booleans."""
    names = ["no_subprocessors", *(f"cert-{key}" for key in (*NAMED_CERTIFICATIONS, "other"))]
    return {name: bool(form.get(name)) for name in names}


@bp.post("/reviews/<int:request_id>/question")
@access.page("catalog:read")
def ask_question(request_id: int):
    found = _reviewable(request_id)
    body = request.form.get("body", "")
    try:
        conversation.ask(db.session, g.actor, SOURCE, found, body)
    except Invalid as refused:
        db.session.rollback()
        return render_review_page(
            _reviewable(request_id),
            422,
            message_kind="question",
            message_body=body,
            message_error=refused.errors[0],
        )
    db.session.commit()
    flash("Your question is sent; the request now waits for the requester.", "success")
    return redirect(url_for("portal.review_queue"))


@bp.post("/reviews/<int:request_id>/decision")
@access.page("catalog:read")
def decide_request(request_id: int):
    found = _reviewable(request_id)
    typed = decision_typed(request.form)
    folders = config_of(current_app).connector_folders
    document, rows = decision_document(typed)
    try:
        result = decisions.decide(db.session, g.actor, SOURCE, found, document, folders)
    except CatalogRefusal as refused:
        db.session.rollback()
        return render_review_page(
            _reviewable(request_id),
            refused.status,
            decision=typed,
            decision_problems=_on_form_rows(refused.errors, rows),
            decision_refused=refused.message,
        )
    db.session.commit()
    _flash_outcome(found, result)
    return redirect(url_for("portal.review_queue"))


def _flash_outcome(found: ToolRequest, result: decisions.DecisionResult) -> None:
    if result.tool is None:
        flash(
            f"Decided: {result.outcome.value.replace('_', ' ')} ({found.vendor_name}).", "success"
        )
    elif result.missing_credentials:
        flash(
            f"{result.tool.name} is approved and waits for credentials "
            f"({', '.join(result.missing_credentials)}): an admin is told.",
            "success",
        )
    else:
        flash(f"{result.tool.name} is approved; its departments' apps may call it now.", "success")

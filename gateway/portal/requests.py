"""Marketing's pages for tool requests: ask for a tool, see what overlaps, follow, answer.

Asking takes two steps without JavaScript: "Check" validates what was typed and shows
the approved tools that already cover it and any tool or open request for the same
vendor; "Submit" files it. A refused form comes back with what was typed and each
problem next to its field.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from catalog import conversation, overlap
from catalog import requests as tool_requests
from catalog.errors import Invalid
from catalog.models import DECIDED, Department, RequestStatus, ToolRequest, Urgency
from catalog.request_fields import CATEGORIES, read_request_fields
from connectors.registry import spec_files
from gateway.config import config_of
from gateway.db import UNSTORABLE, db, utcnow
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item
from gateway.portal.taxonomy_choices import data_category_groups, data_use_groups, labels

SOURCE = "portal"
LIST_FIELDS = ("purposes", "data_categories", "departments")
#: fields a link may fill in ahead (shadow-IT's "request this tool")
PREFILLED = ("vendor_name", "website", "category", "connector", "justification")

nav_item("new_request", "Request a tool", "requests:write", 20)
nav_item("my_requests", "My requests", "requests:write", 30)


@bp.app_template_filter("waited")
def waited(since) -> str:
    """How long since ``since``, as a person says it: "3 days", "5 hours", "a moment"."""
    elapsed = utcnow() - since
    if elapsed >= timedelta(days=2):
        return f"{elapsed.days} days"
    if elapsed >= timedelta(hours=2):
        return f"{int(elapsed.total_seconds() // 3600)} hours"
    if elapsed >= timedelta(minutes=2):
        return f"{int(elapsed.total_seconds() // 60)} minutes"
    return "a moment"


@bp.app_template_filter("plain_label")
def plain_label(key: str) -> str:
    """A fideslang key in words ("Email" for ``user.contact.email``)."""
    return labels().get(key, key)


def field_errors(errors: list[dict]) -> dict[str, str]:
    """Problems keyed by the form field they belong to (``/grants/0/mode`` → ``grants-0-mode``,
    and also ``grants``, so a group of fields can show it once)."""
    by_field: dict[str, str] = {}
    for error in errors:
        parts = error["pointer"].strip("/").split("/")
        by_field.setdefault("-".join(parts), error["message"])
        by_field.setdefault(parts[0], error["message"])
    return by_field


def storable_form() -> None:
    """Refuses a form holding what no column can store (a NUL), before any service reads it."""
    for name, value in request.form.items(multi=True):
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            raise Invalid(
                "the form holds a NUL character, which cannot be stored; remove it and send again",
                [{"pointer": "/" + UNSTORABLE.sub("", name), "message": "holds a NUL character"}],
            )


def connectors() -> list[str]:
    return sorted(spec_files(config_of(current_app).connector_folders))


def _typed() -> dict:
    typed = {name: request.form.get(name, "") for name in request.form if name not in LIST_FIELDS}
    typed.update({name: request.form.getlist(name) for name in LIST_FIELDS})
    typed.pop("csrf_token", None)
    return typed


def _departments_offered() -> list[Department]:
    query = select(Department).order_by(Department.name)
    if g.actor.departments is not None:
        query = query.where(Department.slug.in_(sorted(g.actor.departments)))
    return list(db.session.scalars(query))


def _request_form(typed: dict, errors: list[dict] | None = None, found=None, status: int = 200):
    return render_template(
        "portal/requests/new.html",
        typed=typed,
        errors=field_errors(errors or []),
        error_count=len(errors or []),
        overlaps=found,
        categories=CATEGORIES,
        urgencies=[urgency.value for urgency in Urgency],
        connectors=connectors(),
        departments=_departments_offered(),
        use_groups=data_use_groups(),
        category_groups=data_category_groups(),
    ), status


@bp.get("/requests/new")
@access.page("requests:write")
def new_request():
    mine = [department.slug for department in _departments_offered()]
    typed = {"urgency": "normal", "departments": mine if len(mine) == 1 else []}
    typed.update({name: request.args[name] for name in PREFILLED if request.args.get(name)})
    typed.update({name: request.args.getlist(name) for name in LIST_FIELDS if name in request.args})
    return _request_form(typed)[0]


@bp.post("/requests/new")
@access.page("requests:write")
def file_request():
    storable_form()
    typed = _typed()
    try:
        fields = read_request_fields(db.session, g.actor, typed, connectors())
        if request.form.get("step") == "submit":
            filed = tool_requests.submit(db.session, g.actor, SOURCE, typed, connectors())
            db.session.commit()
            flash(f"Your request for {filed.vendor_name} is with IT.", "success")
            return redirect(url_for("portal.request_page", request_id=filed.id))
    except Invalid as refused:
        db.session.rollback()
        return _request_form(typed, refused.errors, status=422)
    folders = config_of(current_app).connector_folders
    found = {
        "covering": overlap.covering_tools(
            db.session, fields.purposes, fields.data_categories, folders
        ),
        "same_vendor": overlap.same_vendor(db.session, g.actor, fields.vendor_name, fields.website),
    }
    return _request_form(typed, found=found)


@bp.get("/requests")
@access.page("requests:write")
def my_requests():
    everyone = request.args.get("show") == "departments"
    found = tool_requests.list_requests(db.session, g.actor, mine=not everyone, limit=200)
    return render_template("portal/requests/list.html", requests=found, everyone=everyone)


def render_request_page(found: ToolRequest, status: int = 200, **form_state):
    return render_template(
        "portal/requests/show.html",
        found=found,
        is_open=found.status not in DECIDED,
        needs_answer=found.status == RequestStatus.NEEDS_INFO,
        **form_state,
    ), status


@bp.get("/requests/<int:request_id>")
@access.page("catalog:read")
def request_page(request_id: int):
    return render_request_page(tool_requests.get_request(db.session, g.actor, request_id))


@bp.post("/requests/<int:request_id>/messages")
@access.page("catalog:read")
def post_message(request_id: int):
    storable_form()
    found = tool_requests.get_request(db.session, g.actor, request_id)
    kind, body = request.form.get("kind", ""), request.form.get("body", "")
    try:
        conversation.post_message(db.session, g.actor, SOURCE, found, kind, body)
    except Invalid as refused:
        db.session.rollback()
        return _refused_message(request_id, kind, body, refused)
    db.session.commit()
    flash("Your message is posted.", "success")
    return redirect(url_for("portal.request_page", request_id=request_id))


def _refused_message(request_id: int, kind: str, body: str, refused: Invalid):
    found = tool_requests.get_request(db.session, g.actor, request_id)
    return render_request_page(
        found, 422, message_kind=kind, message_body=body, message_error=refused.errors[0]
    )


@bp.post("/requests/<int:request_id>/withdraw")
@access.page("catalog:read")
def withdraw_request(request_id: int):
    found = tool_requests.get_request(db.session, g.actor, request_id)
    tool_requests.withdraw(db.session, g.actor, SOURCE, found)
    db.session.commit()
    flash(f"The request for {found.vendor_name} is withdrawn.", "success")
    return redirect(url_for("portal.request_page", request_id=request_id))

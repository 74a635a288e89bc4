"""The portal's app pages: my apps, register an app, and one app with its keys and history.

A secret (the client secret, an API key) is rendered once, in the answer to the form that
made it, beside how to connect each of the app's tools with it; it is stored nowhere
the portal could show it again. The pages call the services the API calls.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from catalog.errors import CatalogRefusal, Conflict, Invalid
from catalog.history import ChangeEvent
from catalog.models import Department, Grant, Tool, ToolStatus
from gateway.db import db
from gateway.oauth.api_keys import (
    DEFAULT_OVERLAP,
    MAX_OVERLAP_HOURS,
    NewKey,
    create_key,
    key_state,
    revoke_key,
    rotate_key,
)
from gateway.oauth.apps import get_app, list_apps, register_app, remove_app, rotate_app_secret
from gateway.oauth.models import Client
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item
from gateway.snapshots import snapshots_of

SOURCE = "portal"
HISTORY_SHOWN = 50

nav_item("apps", "My apps", "apps:write", 40)


@bp.get("/apps")
@access.page("catalog:read")
def apps():
    return render_template("portal/apps/list.html", apps=list_apps(db.session, g.actor))


@bp.route("/apps/new", methods=["GET", "POST"])
@access.page("apps:write")
def register():
    form = request.form
    if request.method == "GET":
        return _registration_page({}, {})
    try:
        client, secret = register_app(
            db.session,
            g.actor,
            SOURCE,
            form.get("name", ""),
            form.get("department", ""),
            form.getlist("tools"),
            form.get("description"),
        )
        first_key = create_key(db.session, g.actor, SOURCE, client, "first key")
    except CatalogRefusal as refusal:
        db.session.rollback()
        return _registration_page(form, _field_errors(refusal, "name")), 422
    _commit()
    return render_template(
        "portal/apps/registered.html",
        app=client,
        secret=secret,
        issued=first_key,
        connections=_connections(client, first_key.plaintext),
    ), 201


@bp.get("/apps/<int:app_id>")
@access.page("catalog:read")
def app_page(app_id: int):
    return _app_page(get_app(db.session, g.actor, app_id))


@bp.post("/apps/<int:app_id>/keys")
@access.page("apps:write")
def new_key(app_id: int):
    client = get_app(db.session, g.actor, app_id)
    form = request.form
    try:
        issued = _issue_key(client, form)
    except CatalogRefusal as refusal:
        db.session.rollback()
        whole_form = "keys" if form.get("replaces") else "key_name"
        errors = _field_errors(refusal, whole_form)
        return _app_page(client, form=form, errors=errors, status=422)
    _commit()
    return _app_page(client, issued=issued, status=201)


@bp.post("/apps/<int:app_id>/keys/<key_id>/revoke")
@access.page("apps:write")
def revoke(app_id: int, key_id: str):
    client = get_app(db.session, g.actor, app_id)
    revoke_key(db.session, g.actor, SOURCE, client, key_id)
    _commit()
    flash(f"Key {key_id} is revoked: calls with it are refused from now on.", "success")
    return redirect(url_for("portal.app_page", app_id=app_id))


@bp.post("/apps/<int:app_id>/secret")
@access.page("apps:write")
def new_secret(app_id: int):
    client = get_app(db.session, g.actor, app_id)
    secret = rotate_app_secret(db.session, g.actor, SOURCE, client)
    _commit()
    return _app_page(client, secret=secret)


@bp.post("/apps/<int:app_id>/remove")
@access.page("apps:write")
def remove(app_id: int):
    client = get_app(db.session, g.actor, app_id)
    remove_app(db.session, g.actor, SOURCE, client)
    _commit()
    flash(f"App {client.name} is removed and its keys revoked.", "success")
    return redirect(url_for("portal.app_page", app_id=app_id))


def _issue_key(client: Client, form) -> NewKey:
    """A new key from the key form, rotating the one it names with its overlap."""
    expires_at = _end_of_day(form.get("expires"))
    name = form.get("key_name", "")
    replaces = form.get("replaces")
    if not replaces:
        return create_key(db.session, g.actor, SOURCE, client, name, expires_at)
    overlap = _overlap(form.get("overlap_hours", ""))
    return rotate_key(
        db.session, g.actor, SOURCE, client, replaces, overlap, name or None, expires_at
    )


def _app_page(
    client: Client,
    issued: NewKey | None = None,
    secret: str | None = None,
    form=None,
    errors: dict | None = None,
    status: int = 200,
):
    shown = issued.plaintext if issued else None
    return render_template(
        "portal/apps/app.html",
        app=client,
        keys=[(key, key_state(key)) for key in client.api_keys],
        history=_history(client),
        issued=issued,
        secret=secret,
        connections=_connections(client, shown) if shown else [],
        form=form or {},
        errors=errors or {},
        default_overlap=int(DEFAULT_OVERLAP.total_seconds() // 3600),
        max_overlap=MAX_OVERLAP_HOURS,
    ), status


def _registration_page(form, errors: dict):
    departments = _departments()
    return render_template(
        "portal/apps/register.html",
        form=form,
        errors=errors,
        departments=departments,
        tools=_grantable_tools([department.slug for department in departments]),
        chosen=set(form.getlist("tools")) if form else set(),
    )


def _departments() -> list[Department]:
    query = select(Department).order_by(Department.name)
    if g.actor.departments is not None:
        query = query.where(Department.slug.in_(g.actor.departments))
    return list(db.session.scalars(query))


def _grantable_tools(departments: list[str]) -> list[tuple[Tool, list[str]]]:
    """Approved tools granted to any of ``departments``, each with the departments granted."""
    rows = db.session.execute(
        select(Tool, Department.slug)
        .join(Grant, Grant.tool_id == Tool.id)
        .join(Department, Grant.department_id == Department.id)
        .where(Tool.status == ToolStatus.APPROVED, Department.slug.in_(departments))
        .order_by(Tool.name, Department.slug)
    )
    granted: dict[int, tuple[Tool, list[str]]] = {}
    for tool, department in rows:
        granted.setdefault(tool.id, (tool, []))[1].append(department)
    return list(granted.values())


def _connections(client: Client, key: str) -> list[dict]:
    """How each of the app's tools is called with ``key``: base URL and where the key goes."""
    catalog = snapshots_of(current_app).get("catalog")
    connections = []
    for slug in client.tools:
        tool = catalog.tools.get(slug)
        spec = tool.spec if tool else None
        connections.append(
            {
                "tool": slug,
                "base_url": f"{request.host_url}proxy/{slug}",
                "key_goes": [location.describe() for location in spec.app_token] if spec else [],
                "docs": spec.docs if spec else None,
            }
        )
    return connections


def _history(client: Client) -> list[ChangeEvent]:
    key_ids = [key.key_id for key in client.api_keys]
    mine = or_(
        (ChangeEvent.object_type == "app") & (ChangeEvent.object_id == client.client_id),
        (ChangeEvent.object_type == "api_key") & ChangeEvent.object_id.in_(key_ids),
    )
    query = select(ChangeEvent).where(mine).order_by(ChangeEvent.id.desc()).limit(HISTORY_SHOWN)
    return list(db.session.scalars(query))


def _field_errors(refusal: CatalogRefusal, whole_form_field: str) -> dict[str, str]:
    """Each refused field's message by form field name (``/tools/2`` is ``tools``); a
    refusal of no field (a name taken) is shown at ``whole_form_field``."""
    if isinstance(refusal, Conflict) or not refusal.errors:
        return {whole_form_field: refusal.message}
    names = {"/name": whole_form_field, "/expires_at": "expires"}
    errors: dict[str, str] = {}
    for error in refusal.errors:
        pointer = error["pointer"]
        field = names.get(pointer, pointer.lstrip("/").split("/")[0])
        errors.setdefault(field, error["message"])
    return errors


def _end_of_day(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise _invalid("/expires_at", "must be a date (YYYY-MM-DD)") from exc
    return datetime.combine(day, time.max, UTC)


def _overlap(text: str) -> timedelta:
    text = text.strip()
    if not text:
        return DEFAULT_OVERLAP
    if not text.isascii() or not text.isdigit() or int(text) > MAX_OVERLAP_HOURS:
        raise _invalid("/overlap_hours", f"must be whole hours from 0 to {MAX_OVERLAP_HOURS}")
    return timedelta(hours=int(text))


def _invalid(pointer: str, message: str) -> Invalid:
    return Invalid("the key cannot be made as given", [{"pointer": pointer, "message": message}])


def _commit() -> None:
    """Commit, and have this instance's proxy see the change on its next call."""
    db.session.commit()
    snapshots_of(current_app).invalidate()

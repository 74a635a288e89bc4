"""The admins' users page: list users, create one (its one-time sign-in link shown once),
change role, departments and name, deactivate and reactivate."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from catalog.errors import Conflict, Invalid
from gateway.db import db
from gateway.identity.roles import Role
from gateway.identity.sign_in_links import issue_link, link_url
from gateway.identity.users import (
    PERMISSION,
    create_user,
    department_choices,
    get_user,
    list_users,
    update_user,
)
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item

SOURCE = "portal"
#: Users shown on one page of the list (the API pages through more).
PAGE_SIZE = 500
_NO_STORE = {"Cache-Control": "no-store"}

nav_item("users", "Users", PERMISSION, 80)


@bp.get("/users")
@access.page(PERMISSION)
def users():
    return _users_page({}, {})


@bp.post("/users")
@access.page(PERMISSION)
def create_user_page():
    typed = _typed_user()
    try:
        user = create_user(db.session, g.actor, SOURCE, **typed)
    except Invalid as refusal:
        db.session.rollback()
        return _users_page(typed, _field_errors(refusal)), 422
    except Conflict as refusal:  # the e-mail address is taken
        db.session.rollback()
        return _users_page(typed, {"email": refusal.message}), 409
    token = issue_link(db.session, user)
    db.session.commit()
    created = {"email": user.email, "link": link_url(request.url_root, token)}
    return render_template("portal/users/created.html", created=created), 201, _NO_STORE


@bp.get("/users/<int:user_id>")
@access.page(PERMISSION)
def user_page(user_id: int):
    return _user_page(get_user(db.session, g.actor, user_id), None, {})


@bp.post("/users/<int:user_id>")
@access.page(PERMISSION)
def change_user(user_id: int):
    user = get_user(db.session, g.actor, user_id)
    typed = _typed_user()
    del typed["email"]  # not changed here: it is the sign-in name
    try:
        changed = update_user(db.session, g.actor, SOURCE, user, **typed)
    except Invalid as refusal:
        db.session.rollback()
        user = get_user(db.session, g.actor, user_id)
        return _user_page(user, typed, _field_errors(refusal)), 422
    db.session.commit()
    flash(f"{user.email}: {'changes saved' if changed else 'nothing to change'}.", "success")
    return redirect(url_for("portal.user_page", user_id=user.id))


@bp.post("/users/<int:user_id>/active")
@access.page(PERMISSION)
def set_user_active(user_id: int):
    user = get_user(db.session, g.actor, user_id)
    active = request.form.get("active") == "true"
    update_user(db.session, g.actor, SOURCE, user, active=active)
    db.session.commit()
    state = "reactivated" if active else "deactivated: their sessions have ended"
    flash(f"{user.email} {state}.", "success")
    return redirect(url_for("portal.user_page", user_id=user.id))


def _typed_user() -> dict:
    return {
        "email": request.form.get("email", ""),
        "name": request.form.get("name", ""),
        "role": request.form.get("role", ""),
        "departments": request.form.getlist("departments"),
    }


def _field_errors(refusal: Invalid) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in refusal.errors:
        errors.setdefault(error["pointer"].lstrip("/") or "form", error["message"])
    return errors or {"form": refusal.message}


def _users_page(typed: dict, errors: dict[str, str]):
    return render_template(
        "portal/users/list.html",
        users=list_users(db.session, g.actor, limit=PAGE_SIZE),
        roles=list(Role),
        departments=department_choices(db.session),
        typed=typed,
        errors=errors,
    )


def _user_page(user, typed: dict | None, errors: dict[str, str]):
    shown = typed or {
        "name": user.name,
        "role": user.role.value,
        "departments": user.department_slugs,
    }
    return render_template(
        "portal/users/edit.html",
        user=user,
        roles=list(Role),
        departments=department_choices(db.session),
        typed=shown,
        errors=errors,
    )

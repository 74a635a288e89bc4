"""Signing in and out of the portal."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for

from gateway.db import db
from gateway.identity.accounts import authenticate
from gateway.identity.sessions import end_session, start_session
from gateway.portal.blueprint import bp


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_page = _local_path(request.values.get("next"))
    if request.method == "GET":
        return render_template("portal/sign_in.html", next_page=next_page)
    user = authenticate(db.session, request.form.get("email", ""), request.form.get("password", ""))
    if user is None:
        db.session.rollback()
        flash("That e-mail address and password do not match an active account.", "error")
        return render_template(
            "portal/sign_in.html", next_page=next_page, email=request.form.get("email", "")
        ), 401
    start_session(user)
    db.session.commit()
    return redirect(next_page or url_for("portal.home"))


@bp.post("/sign-out")
def sign_out():
    end_session()
    flash("You are signed out.", "success")
    return redirect(url_for("portal.sign_in"))


def _local_path(target: str | None) -> str | None:
    """``target`` if it is a path of this portal; never another site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/portal") or "\\" in target:
        return None
    return target

"""Signing in and out of the portal with a local account.

Failed attempts are throttled per account and per address (``gateway.identity.throttle``):
a throttled attempt is answered 429 with ``Retry-After`` and its password is not checked.
Where single sign-on is configured, the page also offers "Sign in with <provider>".
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for

from gateway.db import db
from gateway.identity.accounts import authenticate
from gateway.identity.oidc_client import oidc_settings
from gateway.identity.sessions import end_session, start_session
from gateway.identity.throttle import TooManyAttempts, sign_in_throttle
from gateway.portal.blueprint import bp


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_page = local_path(request.values.get("next"))
    if request.method == "GET":
        return _sign_in_page(next_page)
    email = request.form.get("email", "")
    throttle = sign_in_throttle()
    try:
        throttle.check(email, request.remote_addr or "unknown")
    except TooManyAttempts as refusal:
        minutes = -(-refusal.retry_after // 60)
        flash(
            f"Too many failed sign-ins for this account or from your address. "
            f"Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            "error",
        )
        return _sign_in_page(next_page, email), 429, {"Retry-After": str(refusal.retry_after)}
    user = authenticate(db.session, email, request.form.get("password", ""))
    if user is None:
        db.session.rollback()
        throttle.failed(email, request.remote_addr or "unknown")
        flash("That e-mail address and password do not match an active account.", "error")
        return _sign_in_page(next_page, email), 401
    throttle.succeeded(email)
    start_session(user)
    db.session.commit()
    return redirect(next_page or url_for("portal.home"))


@bp.post("/sign-out")
def sign_out():
    end_session()
    flash("You are signed out.", "success")
    return redirect(url_for("portal.sign_in"))


def _sign_in_page(next_page: str | None, email: str = ""):
    return render_template(
        "portal/sign_in.html", next_page=next_page, email=email, single_sign_on=oidc_settings()
    )


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path of this portal; never another site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not (target == "/portal" or target.startswith("/portal/"))
        or "\\" in target
        or ".." in parts.path.split("/")
        or any(ord(character) < 0x20 or ord(character) == 0x7F for character in target)
    ):
        return None
    return target

"""The page a one-time sign-in link opens: the new user chooses a password and is in.

The token is in the path, so the page is sent with ``Referrer-Policy: no-referrer`` (it
must not leak to another site) and is never cached.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from catalog.errors import Invalid
from gateway.db import db
from gateway.identity.sessions import start_session
from gateway.identity.sign_in_links import redeem_link, usable_link
from gateway.identity.users import MIN_PASSWORD_LENGTH
from gateway.portal.blueprint import bp

_PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    if request.method == "GET":
        link = usable_link(db.session, token)
        return _page(token, link.user.email, {}), 200, _PRIVATE
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        email = usable_link(db.session, token).user.email
        return _page(token, email, {"confirm": "The two passwords differ."}), 422, _PRIVATE
    try:
        user = redeem_link(db.session, token, password)
    except Invalid as refusal:
        db.session.rollback()
        email = usable_link(db.session, token).user.email
        errors = {error["pointer"].lstrip("/"): error["message"] for error in refusal.errors}
        return _page(token, email, errors), 422, _PRIVATE
    start_session(user)
    db.session.commit()
    flash("Your password is set and you are signed in.", "success")
    return redirect(url_for("portal.home"))


def _page(token: str, email: str, errors: dict[str, str]):
    return render_template(
        "portal/set_password.html",
        token=token,
        email=email,
        errors=errors,
        min_length=MIN_PASSWORD_LENGTH,
    )

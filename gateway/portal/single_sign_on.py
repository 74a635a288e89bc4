"""Signing in through the company's OpenID Provider (shown only when it is configured).

``POST /portal/sign-in/oidc`` sends the browser to the provider (a POST, so another
site cannot start a sign-in for the visitor); the provider sends it back to
``/portal/sign-in/oidc/callback``, where the code is exchanged, the user is found or
created from the claims, and a fresh session starts.
"""

from __future__ import annotations

import logging

import requests
from authlib.common.errors import AuthlibBaseError
from flask import abort, redirect, render_template, request, session, url_for

from gateway.db import db
from gateway.identity.oidc_client import oidc_client, oidc_settings, verified_claims
from gateway.identity.provisioning import SignInRefused, user_for_claims
from gateway.identity.sessions import start_session
from gateway.portal.blueprint import bp
from gateway.portal.sign_in import local_path

logger = logging.getLogger(__name__)
_NEXT = "sign_in_next"


@bp.post("/sign-in/oidc")
def single_sign_on():
    if oidc_settings() is None:
        abort(404)
    session[_NEXT] = local_path(request.form.get("next"))
    try:
        return oidc_client().authorize_redirect(
            url_for("portal.single_sign_on_callback", _external=True)
        )
    except requests.RequestException:
        logger.warning("identity provider unreachable", exc_info=True)
        return _refused("Your identity provider cannot be reached just now; try again later.", 502)


@bp.get("/sign-in/oidc/callback")
def single_sign_on_callback():
    settings = oidc_settings()
    if settings is None:
        abort(404)
    if "error" in request.args:
        return _refused("Your identity provider did not sign you in; try again.", 401)
    next_page = session.get(_NEXT)
    try:
        claims = verified_claims(oidc_client())
        user = user_for_claims(db.session, settings, claims)
    except SignInRefused as refusal:
        db.session.rollback()
        return _refused(str(refusal), 403)
    except (AuthlibBaseError, requests.RequestException, KeyError):
        db.session.rollback()
        logger.warning("single sign-on failed", exc_info=True)
        return _refused("This sign-in could not be completed (it may have expired); retry.", 400)
    start_session(user)
    db.session.commit()
    return redirect(next_page or url_for("portal.home"))


def _refused(message: str, status: int):
    return render_template("portal/sign_in_refused.html", message=message), status

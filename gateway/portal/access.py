"""Who may see a page: the signed-in user's role, checked before the view runs.

A visitor who is not signed in is sent to the sign-in page and brought back after; a
user whose role does not allow the page gets an explanation, not a stack trace. Every
form carries a CSRF token (Flask-WTF); what the services refuse is shown as a page in
the same words the API uses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Flask, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect

from catalog.errors import CatalogRefusal
from gateway.errors import Problem, problem_of
from gateway.identity.sessions import session_actor
from gateway.portal.blueprint import bp

csrf = CSRFProtect()


def page(permission: str) -> Callable[[Callable], Callable]:
    """The decorated view runs for a signed-in user holding ``permission``."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            actor = session_actor()
            if actor is None:
                return redirect(url_for("portal.sign_in", next=request.full_path.rstrip("?")))
            g.actor = actor
            actor.require(permission)
            return view(*args, **kwargs)

        return guarded

    return decorate


@bp.before_request
def _check_csrf() -> None:
    """Every form the portal receives must carry the token of a page it served."""
    csrf.protect()  # passes safe methods (GET, HEAD, OPTIONS) through


def _problem_page(problem: Problem):
    return render_template("portal/problem.html", problem=problem), problem.status


@bp.errorhandler(CatalogRefusal)
def _refused(refusal: CatalogRefusal):
    return _problem_page(problem_of(refusal))


@bp.errorhandler(Problem)
def _problem(problem: Problem):
    return _problem_page(problem)


@bp.errorhandler(CSRFError)
def _csrf_refused(error: CSRFError):
    return _problem_page(
        Problem(
            400,
            "csrf-failed",
            "Form expired or forged",
            "This form was not sent by the portal, or it expired: reload the page and try again.",
        )
    )


def init_app(app: Flask) -> None:
    # Checked where a session cookie is what authenticates: the portal's forms (above) and
    # the API called with a session (gateway.api.auth); never the proxy nor token calls.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

"""One error shape for every failure: RFC 9457 problem details.

Views raise :class:`Problem`; Werkzeug's HTTP exceptions and unexpected errors are
turned into the same shape, so a client never parses two formats and never sees an
exception's text. Each problem type has a stable slug documented in docs/errors.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask, Response, g
from werkzeug.exceptions import HTTPException

from catalog.errors import CatalogRefusal
from gateway.db import UNAVAILABLE

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://gatehouse.dev/problems/"

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Problem(Exception):
    status: int
    slug: str
    title: str
    detail: str
    reasons: list[dict] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def body(self) -> dict:
        body = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "request_id": g.get("request_id"),
            **self.extra,
        }
        if self.reasons:
            body["reasons"] = self.reasons
        return body


def problem_response(problem: Problem) -> Response:
    response = Response(
        json.dumps(problem.body()), status=problem.status, mimetype=PROBLEM_MEDIA_TYPE
    )
    response.headers.update(problem.headers)
    return response


def _from_http_exception(error: HTTPException) -> Response:
    slug = (error.name or "error").lower().replace(" ", "-")
    headers = dict(error.get_headers()) if error.code == 405 else {}
    headers.pop("Content-Type", None)
    return problem_response(
        Problem(error.code or 500, slug, error.name, error.description or "", headers=headers)
    )


def _from_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _from_http_exception(error)
    logger.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return problem_response(
        Problem(500, "internal-error", "Internal error", "The gateway failed unexpectedly.")
    )


DATABASE_UNAVAILABLE = "the gateway cannot reach its database just now; try again later"


def database_unavailable(reasons: list[dict] | None = None) -> Problem:
    return Problem(
        503,
        "database-unavailable",
        "Database unavailable",
        DATABASE_UNAVAILABLE,
        reasons=reasons or [],
        headers={"Retry-After": "5"},
    )


@contextmanager
def database_errors_as_problem() -> Iterator[None]:
    """Turns a database that cannot be reached into :func:`database_unavailable`, with
    the rule that refused, for callers that handle problems themselves: the proxy
    records them."""
    try:
        yield
    except UNAVAILABLE as exc:
        logger.warning("database unavailable: %s", exc, extra={"request_id": g.get("request_id")})
        reason = {"rule": "database_unavailable", "message": DATABASE_UNAVAILABLE}
        raise database_unavailable([reason]) from exc


def _from_unavailable_database(error: Exception) -> Response:
    """A database that cannot be reached is a passing state, not a bug: 503 (and in the
    log a line, not a traceback; the driver's message only there)."""
    logger.warning("database unavailable: %s", error, extra={"request_id": g.get("request_id")})
    return problem_response(database_unavailable())


def problem_of(refusal: CatalogRefusal) -> Problem:
    """The problem details of what a service refused."""
    title = refusal.slug.replace("-", " ").capitalize()
    extra = {"errors": refusal.errors} if refusal.errors else {}
    return Problem(refusal.status, refusal.slug, title, refusal.message, extra=extra)


def init_app(app: Flask) -> None:
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(
        CatalogRefusal, lambda refusal: problem_response(problem_of(refusal))
    )
    for unavailable in UNAVAILABLE:
        app.register_error_handler(unavailable, _from_unavailable_database)
    app.register_error_handler(Exception, _from_unexpected)

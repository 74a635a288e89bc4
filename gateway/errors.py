"""One error shape for every failure: RFC 9457 problem details.

Views raise :class:`Problem`; Werkzeug's HTTP exceptions and unexpected errors are
turned into the same shape, so a client never parses two formats and never sees an
exception's text. Each problem type has a stable slug documented in docs/errors.md.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from flask import Flask, Response, g
from werkzeug.exceptions import HTTPException

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


def init_app(app: Flask) -> None:
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(Exception, _from_unexpected)

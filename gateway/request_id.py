"""A request id for every response, generated here so auditors can trust it is unique."""

from __future__ import annotations

import uuid

from flask import Flask, Response, g

HEADER = "X-Request-Id"


def _assign() -> None:
    g.request_id = uuid.uuid4().hex


def _echo(response: Response) -> Response:
    response.headers[HEADER] = g.get("request_id", "")
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign)
    app.after_request(_echo)

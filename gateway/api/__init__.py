"""The JSON API under ``/api/v1``, described by OpenAPI 3.1 at ``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from gateway.api import (
    apps,
    audit,
    consent,
    grants,
    history,
    inputs,
    shadow_it,
    tool_requests,
    tools,
    usage,
    users,
)
from gateway.api.auth import guard
from gateway.api.document import openapi_document
from gateway.api.operations import api_spec

bp = Blueprint("api", __name__, url_prefix=inputs.API_PREFIX)
bp.before_request(inputs.check_query)
consent.register(bp)
audit.register(bp)
tools.register(bp)
grants.register(bp)
history.register(bp)
tool_requests.register(bp)
apps.register(bp)
users.register(bp)
shadow_it.register(bp)
usage.register(bp)


@api_spec.operation(
    bp,
    "GET",
    "/openapi.json",
    guard,
    summary="This document",
    permission=None,
    answers={200: ("The OpenAPI document", {"type": "object", "required": ["openapi", "paths"]})},
)
def openapi():
    return jsonify(openapi_document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

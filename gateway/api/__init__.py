"""The JSON API under ``/api/v1``, described by OpenAPI 3.1 at ``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from gateway.api import audit, consent, inputs, users
from gateway.api.document import openapi_document

bp = Blueprint("api", __name__, url_prefix=inputs.API_PREFIX)
bp.before_request(inputs.check_query)
consent.register(bp)
audit.register(bp)
users.register(bp)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

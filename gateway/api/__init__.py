"""The JSON API under ``/api/v1``, described by OpenAPI 3.1 at ``/api/v1/openapi.json``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from flask import Blueprint, Flask, jsonify

from gateway.api import audit, consent

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")

bp = Blueprint("api", __name__, url_prefix="/api/v1")
consent.register(bp)
audit.register(bp)


@cache
def openapi_document() -> dict:
    return yaml.safe_load(OPENAPI_PATH.read_text())


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

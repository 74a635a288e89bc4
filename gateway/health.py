"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: it can record)."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.db import db
from gateway.errors import Problem


def healthz():
    return jsonify(status="ok")


def readyz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise Problem(503, "not-ready", "Not ready", "the database cannot be reached") from exc
    return jsonify(status="ready")


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/readyz", "readyz", readyz)

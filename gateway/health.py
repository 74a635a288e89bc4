"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: it can record).

Ready means that an exchange could be recorded now: the writer thread takes a probe
through the same path as a record (the database reached, the chain lock taken, a
commit) within ``GATEHOUSE_AUDIT_TIMEOUT``. A gateway that cannot record forwards
nothing, so a load balancer should send its calls elsewhere.
"""

from __future__ import annotations

from flask import Flask, current_app, jsonify

from gateway.audit.log import AuditUnavailable
from gateway.errors import Problem


def healthz():
    return jsonify(status="ok")


def readyz():
    try:
        current_app.extensions["gatehouse.proxy"].log.probe()
    except AuditUnavailable as exc:
        raise Problem(
            503,
            "not-ready",
            "Not ready",
            "the exchange log cannot be written just now",
            headers={"Retry-After": "5"},
        ) from exc
    return jsonify(status="ready")


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/readyz", "readyz", readyz)

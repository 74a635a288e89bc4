"""Prometheus metrics of the proxy, served at ``/metrics``.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` so that the
workers' counters are summed; otherwise each process reports its own.
"""

from __future__ import annotations

import os

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

EXCHANGES = Counter(
    "gatehouse_exchanges_total",
    "Calls through the proxy by tool, decision and response status.",
    ["tool", "decision", "status"],
)
LATENCY = Histogram(
    "gatehouse_exchange_seconds",
    "Time from request to response through the proxy, upstream time included.",
    ["tool"],
)
UPSTREAM_LATENCY = Histogram(
    "gatehouse_upstream_seconds", "Time the tool took to answer.", ["tool"]
)


def observe_exchange(
    tool: str, decision: str, status: int, seconds: float, upstream_seconds: float | None
) -> None:
    EXCHANGES.labels(tool, decision, str(status)).inc()
    LATENCY.labels(tool).observe(seconds)
    if upstream_seconds is not None:
        UPSTREAM_LATENCY.labels(tool).observe(upstream_seconds)


def _metrics() -> Response:
    registry = DEFAULT_REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", _metrics)

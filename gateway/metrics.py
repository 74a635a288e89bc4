"""Prometheus metrics of the proxy and of the exchange log's writer, served at ``/metrics``.

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
REASONS = Counter(
    "gatehouse_decision_reasons_total",
    "Reasons given for refusing (deny) or redacting calls, by tool and rule; the rule is "
    "spelled as in the exchange log and the problem's reasons.",
    ["tool", "decision", "rule"],
)
UPSTREAM_LATENCY = Histogram(
    "gatehouse_upstream_seconds", "Time the tool took to answer.", ["tool"]
)

AUDIT_BATCH = Histogram(
    "gatehouse_audit_batch_entries",
    "Records and completions committed together by one writer (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000),
)
AUDIT_LOCK_WAIT = Histogram(
    "gatehouse_audit_chain_lock_wait_seconds",
    "Time a writer waited for the chain lock, which every instance shares.",
)
AUDIT_LOCK_HELD = Histogram(
    "gatehouse_audit_chain_lock_held_seconds",
    "Time a writer held the chain lock for one batch, commit included: the log's "
    "throughput across all instances is at most entries per batch over this time.",
    buckets=(0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 1.0),
)


def observe_exchange(
    tool: str, decision: str, status: int, seconds: float, upstream_seconds: float | None
) -> None:
    EXCHANGES.labels(tool, decision, str(status)).inc()
    LATENCY.labels(tool).observe(seconds)
    if upstream_seconds is not None:
        UPSTREAM_LATENCY.labels(tool).observe(upstream_seconds)


def observe_reasons(tool: str, decision: str, rules: list[str]) -> None:
    for rule in rules:
        REASONS.labels(tool, decision, rule).inc()


def observe_audit_batch(entries: int, waited: float, held: float) -> None:
    AUDIT_BATCH.observe(entries)
    AUDIT_LOCK_WAIT.observe(waited)
    AUDIT_LOCK_HELD.observe(held)


def _metrics() -> Response:
    registry = DEFAULT_REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", _metrics)

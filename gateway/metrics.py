"""Prometheus metrics of the proxy and of the exchange log's writer, served at ``/metrics``.

Under ``gatehouse serve`` every worker writes its samples to files in one folder
(Prometheus' multiprocess mode, set up by ``gateway.server``) and ``/metrics`` sums
them, so whichever worker answers a scrape reports the whole instance. Without that
folder (one process: tests, ``flask run``) the process reports its own.

Every label value comes from the catalog or from this code, never from what a request
says: a made-up tool, rule or department cannot add a series. A gauge added here needs a
``multiprocess_mode`` (``livesum``, ``max``...): each worker has its own value.
"""

from __future__ import annotations

import hmac
import os

from flask import Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

from gateway.errors import Problem

#: The label value of a caller not (yet) identified, or of a tool not in the catalog.
NONE = "none"
UNKNOWN_TOOL = "unknown"

EXCHANGES = Counter(
    "gatehouse_exchanges_total",
    "Calls through the proxy by tool, calling department, decision and response status.",
    ["tool", "department", "decision", "status"],
)
LATENCY = Histogram(
    "gatehouse_exchange_seconds",
    "Time from request to response through the proxy, upstream time included.",
    ["tool"],
)
REASONS = Counter(
    "gatehouse_decision_reasons_total",
    "Reasons given for refusing (deny) or redacting calls, by tool, department and rule; "
    "the rule is spelled as in the exchange log and the problem's reasons.",
    ["tool", "department", "decision", "rule"],
)
CONSENT_BLOCKED = Counter(
    "gatehouse_consent_blocked_people_total",
    "People kept from a tool for consent: dropped from a batch that went on without them "
    "(outcome=dropped), or named in a call refused for a consent reason (outcome=refused).",
    ["tool", "department", "outcome"],
)
VENDOR_ERRORS = Counter(
    "gatehouse_vendor_errors_total",
    "Calls a tool failed, by kind: timeout, connection, tls, bad-response, too-large, "
    "address-refused, auth (its token endpoint), 429 (rate limited) and 5xx.",
    ["tool", "kind"],
)
RATE_LIMITED = Counter(
    "gatehouse_rate_limited_total",
    "Calls refused with 429 by a rate limit, by tool, calling department and the limit's "
    "kind: app, department, tool, vendor_quota, or vendor_pause (the vendor's own 429 "
    "holding the tool's calls for every app).",
    ["tool", "department", "limit"],
)
LIMIT_STORE_ERRORS = Counter(
    "gatehouse_rate_limit_store_errors_total",
    "Calls whose limits could not be counted because their store (Redis) was unreachable, "
    "by tool and what became of them: open (let through), closed (refused with 503), or "
    "pause-lost (a vendor's 429 could not be shared with the other instances).",
    ["tool", "outcome"],
)
VENDOR_PAUSES = Counter(
    "gatehouse_vendor_pauses_total",
    "Times a vendor's 429 paused its tool for every app, by tool.",
    ["tool"],
)
UPSTREAM_LATENCY = Histogram(
    "gatehouse_upstream_seconds", "Time the tool took to answer.", ["tool"]
)
UPSTREAM_RETRIES = Counter(
    "gatehouse_upstream_retries_total",
    "Calls to a tool sent again after a failure (a failed connection; for calls that may be "
    "repeated, also a broken connection, a timeout, a 502, 503 or 504).",
    ["tool"],
)
BREAKER_STATE = Gauge(
    "gatehouse_breaker_state",
    "Each tool's circuit breaker: 0 closed, 1 half-open (one call probes the tool), 2 open "
    "(calls refused). Each worker has its own; the highest of the live workers is shown.",
    ["tool"],
    multiprocess_mode="livemax",
)
BREAKER_TRANSITIONS = Counter(
    "gatehouse_breaker_transitions_total",
    "Times a tool's circuit breaker moved to a state (open, half-open, closed).",
    ["tool", "state"],
)
BREAKER_REFUSED = Counter(
    "gatehouse_breaker_refused_total",
    "Calls refused, unforwarded, because the tool's circuit breaker was open or probing.",
    ["tool"],
)

AUDIT_WRITTEN = Counter(
    "gatehouse_audit_entries_written_total",
    "Entries committed to the exchange log: records of calls forwarded (record), of calls "
    "refused, written with their outcome (refusal), and outcomes of forwarded calls "
    "(completion).",
    ["kind"],
)
AUDIT_FAILURES = Counter(
    "gatehouse_audit_write_failures_total",
    "Entries the exchange log's writer could not commit: the database was unavailable "
    "(unavailable) or refused the entry (refused), or the entry could not be encoded "
    "(invalid). A call whose record was not written was answered 503; one whose outcome "
    "was not written keeps its record pending.",
    ["cause"],
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

CHANGE_NOTIFICATIONS = Counter(
    "gatehouse_change_notifications_total",
    "Changes the database announced to this instance's workers (PostgreSQL LISTEN), by "
    "the snapshot they concern (catalog: tools, grants, apps, keys; revocations).",
    ["snapshot"],
)
CHANGE_LISTENERS = Gauge(
    "gatehouse_change_listeners_up",
    "Workers hearing the database's change announcements now; the others poll.",
    multiprocess_mode="livesum",
)
CHANGE_LISTENER_CONNECTIONS = Counter(
    "gatehouse_change_listener_connections_total",
    "Times a worker's listening connection was lost (event=lost) and made again "
    "(event=restored); meanwhile that worker polls.",
    ["event"],
)


def observe_exchange(
    tool: str,
    department: str,
    decision: str,
    status: int,
    seconds: float,
    upstream_seconds: float | None,
) -> None:
    EXCHANGES.labels(tool, department, decision, str(status)).inc()
    LATENCY.labels(tool).observe(seconds)
    if upstream_seconds is not None:
        UPSTREAM_LATENCY.labels(tool).observe(upstream_seconds)


def observe_reasons(tool: str, department: str, decision: str, rules: list[str]) -> None:
    for rule in rules:
        REASONS.labels(tool, department, decision, rule).inc()


def observe_consent_blocked(tool: str, department: str, outcome: str, people: int) -> None:
    if people:
        CONSENT_BLOCKED.labels(tool, department, outcome).inc(people)


def observe_vendor_error(tool: str, kind: str) -> None:
    VENDOR_ERRORS.labels(tool, kind).inc()


def observe_rate_limited(tool: str, department: str, limit: str) -> None:
    RATE_LIMITED.labels(tool, department, limit).inc()


def observe_limit_store_error(tool: str, outcome: str) -> None:
    LIMIT_STORE_ERRORS.labels(tool, outcome).inc()


def observe_vendor_pause(tool: str) -> None:
    VENDOR_PAUSES.labels(tool).inc()


def observe_retries(tool: str, retries: int) -> None:
    if retries:
        UPSTREAM_RETRIES.labels(tool).inc(retries)


def observe_breaker_state(tool: str, state: str, value: int, moved: bool) -> None:
    """A breaker's state, as first set (``moved=False``) or as moved to."""
    BREAKER_STATE.labels(tool).set(value)
    if moved:
        BREAKER_TRANSITIONS.labels(tool, state).inc()


def observe_breaker_refused(tool: str) -> None:
    BREAKER_REFUSED.labels(tool).inc()


def observe_audit_batch(entries: int, waited: float, held: float) -> None:
    AUDIT_BATCH.observe(entries)
    AUDIT_LOCK_WAIT.observe(waited)
    AUDIT_LOCK_HELD.observe(held)


def observe_audit_written(kind: str, entries: int = 1) -> None:
    AUDIT_WRITTEN.labels(kind).inc(entries)


def observe_audit_failure(cause: str, entries: int = 1) -> None:
    if entries:
        AUDIT_FAILURES.labels(cause).inc(entries)


def observe_change_notification(snapshot: str) -> None:
    CHANGE_NOTIFICATIONS.labels(snapshot).inc()


def observe_change_listener(up: bool, event: str | None = None) -> None:
    CHANGE_LISTENERS.set(1 if up else 0)
    if event is not None:
        CHANGE_LISTENER_CONNECTIONS.labels(event).inc()


def registry() -> CollectorRegistry:
    """What a scrape reads: every worker's files in multiprocess mode, else this process."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return DEFAULT_REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


def _metrics() -> Response:
    token = current_app.extensions["gatehouse.config"].metrics_token
    if token is not None and not _presents(token):
        raise Problem(
            401,
            "metrics-unauthorized",
            "Metrics need a token",
            "send the metrics token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer realm="gatehouse-metrics"'},
        )
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)


def _presents(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def init_app(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", _metrics)

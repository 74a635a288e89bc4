"""A governed call waits only for what its guarantees need.

Its record is committed before it is forwarded; its outcome is written after it was
answered (a process that dies meanwhile leaves the record pending: outcome unknown),
and written still when the worker stops. The consent lookup is one statement outside
any transaction, and a connection the database dropped does not fail it.

To hold the outcome back, the vendor takes the chain lock when it is called, as another
instance's writer would, and keeps it until the test lets go.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from gateway.audit.export import OUTCOME_UNKNOWN, record_as_dict, unknown_outcome_after
from gateway.audit.log import ExchangeLog, Result
from gateway.audit.models import ExchangeRecord, Outcome
from gateway.audit.writer import AuditWriter, audit_engine
from gateway.db import db, utcnow
from tests.conftest import (
    GATEHOUSE,
    SANDBOX_MAILCHIMP_KEY,
    apply,
    demo_document,
    get_token,
    grant_consent,
    serve,
)
from tests.ports import free_port
from tests.test_audit_isolation import chain_lock_held
from tests.test_database_faults import Gateway, gateway_on
from tests.test_readme import wait_until_serving

#: Long enough that a call waiting for its outcome would visibly wait: the writer waits
#: this long for the chain lock, and the call this long for an entry.
PATIENCE = 8.0
FAILURES = "gatehouse_audit_write_failures_total"


class LockingVendor:
    """Answers at once, having taken the chain lock, which it keeps until :meth:`let_go`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._held = threading.Event()
        self._released = threading.Event()

    def wsgi(self, environ, start_response):
        threading.Thread(target=self._hold, daemon=True).start()
        assert self._held.wait(10), "the vendor could not take the chain lock"
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"id": "m1"}']

    def let_go(self) -> None:
        self._released.set()

    def _hold(self) -> None:
        with chain_lock_held(self._engine):
            self._held.set()
            self._released.wait(30)


@pytest.fixture
def vendor(migrated_engine) -> Iterator[LockingVendor]:
    locking = LockingVendor(migrated_engine)
    live = serve(locking.wsgi)
    locking.url = live.url
    yield locking
    locking.let_go()
    live.stop()


def record_of(engine: Engine, request_id: str) -> ExchangeRecord | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(ExchangeRecord.__table__).where(ExchangeRecord.request_id == request_id)
        ).first()
    return ExchangeRecord(**row._mapping) if row else None


def completed_in_time(engine: Engine, request_id: str, seconds: float = 10) -> ExchangeRecord:
    deadline = time.monotonic() + seconds
    while (record := record_of(engine, request_id)).outcome is not Outcome.COMPLETED:
        assert time.monotonic() < deadline, "the outcome was never written"
        time.sleep(0.1)
    return record


def test_a_call_is_answered_before_its_outcome_is_committed_which_follows(
    config, migrated_engine, vendor
):
    settings = config.with_overrides(database_timeout=PATIENCE, audit_timeout=PATIENCE)
    with gateway_on(settings, vendor.url) as gateway:
        started = time.monotonic()
        response = gateway.call()
        took = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert took < PATIENCE / 2  # not held up by the outcome, which cannot be written
        request_id = response.headers["X-Request-Id"]
        assert record_of(migrated_engine, request_id).outcome is Outcome.PENDING
        vendor.let_go()
        record = completed_in_time(migrated_engine, request_id)
        assert (record.status, record.upstream_status) == (200, 200)


def test_an_outcome_that_cannot_be_written_is_logged_and_counted(app, caplog):
    """A completion of a record that does not exist is refused by the database."""
    log = ExchangeLog(AuditWriter(audit_engine(db.of(app).engine)), PATIENCE)
    refused = REGISTRY.get_sample_value(FAILURES, {"cause": "refused"}) or 0.0
    with caplog.at_level(logging.ERROR, logger="gateway.audit.log"):
        log.complete(424242, Result(status=200, latency_ms=1.0))
        log.close()  # writes (here: tries to) what is queued
    assert "could not record the outcome of exchange 424242" in caplog.text
    assert REGISTRY.get_sample_value(FAILURES, {"cause": "refused"}) == refused + 1


@contextmanager
def served_gateway(app, cli_env, vendor_url: str) -> Iterator[tuple[Gateway, subprocess.Popen]]:
    """`gatehouse serve` (one worker) on the test database, its tool at ``vendor_url``;
    in a session of its own, so that the test can kill the worker with the server."""
    report = apply(app, demo_document(vendor_url), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    grant_consent(app, "marketing.communications.email", "ada@example.com")
    port = free_port()
    environment = {**cli_env, "MC_KEY": SANDBOX_MAILCHIMP_KEY}
    environment["GATEHOUSE_DATABASE_TIMEOUT"] = str(PATIENCE)
    process = subprocess.Popen(
        [GATEHOUSE, "serve", "--port", str(port), "--workers", "1"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url + "/healthz", process)
        gateway = Gateway(app, url, proxy=get_token(url, report.new_clients[0]))
        yield gateway, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def test_a_worker_that_stops_writes_the_outcomes_it_has_not_yet(
    app, cli_env, migrated_engine, vendor
):
    with served_gateway(app, cli_env, vendor.url) as (gateway, process):
        response = gateway.call()
        assert response.status_code == 200, response.text
        request_id = response.headers["X-Request-Id"]
        process.terminate()  # the outcome is still queued: the chain lock is held
        time.sleep(1)
        vendor.let_go()
        process.wait(timeout=20)
    record = record_of(migrated_engine, request_id)
    assert (record.outcome, record.status) == (Outcome.COMPLETED, 200)


def test_a_worker_killed_after_forwarding_leaves_the_outcome_unknown(
    app, cli_env, migrated_engine, vendor
):
    with served_gateway(app, cli_env, vendor.url) as (gateway, process):
        response = gateway.call()
        assert response.status_code == 200, response.text
        request_id = response.headers["X-Request-Id"]
        os.killpg(process.pid, signal.SIGKILL)  # the server and its worker, at once
        process.wait(timeout=20)
    vendor.let_go()
    record = record_of(migrated_engine, request_id)
    assert record.outcome is Outcome.PENDING and record.outcome_seq is None
    later = unknown_outcome_after(utcnow() + timedelta(hours=1), 0)
    assert record_as_dict(record, later)["outcome"] == OUTCOME_UNKNOWN


def test_the_consent_lookup_survives_a_dropped_connection(config, database_url, upstream):
    """PostgreSQL: every connection of the gateway ended (as by an administrator, or a
    restart): the next call still looks consent up, and is answered."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's backends")
    with gateway_on(config, upstream.url) as gateway:
        assert gateway.call().status_code == 200
        with db.of(gateway.app).engine.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert ended >= 1  # the consent lookup's connection among them
        response = gateway.call()
        assert response.status_code == 200, response.text
        assert len(upstream.requests) == 2

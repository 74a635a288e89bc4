"""One client cannot hurt another through the exchange log's group commit.

A record the database would refuse (a NUL character, text longer than its column, a
number out of range) is fitted to its columns before it is queued; one the database
refuses all the same fails alone, the other entries of its batch written each on its
own. Either way the chains verify.
"""

from __future__ import annotations

import http.client
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from gateway.audit.fitting import REPLACEMENT
from gateway.audit.models import ExchangeRecord
from gateway.audit.verify import verify as audit_verify
from gateway.audit.writer import CHAIN_LOCK, AuditWriter, Completion, NewRecord, audit_engine
from gateway.db import db, utcnow
from tests.conftest import apply, get_token
from tests.test_proxy import echo_document


def fields(request_id: str, **values) -> dict:
    """The columns of a refused call's record."""
    return {
        "request_id": request_id,
        "started_at": utcnow(),
        "method": "GET",
        "path": "/proxy/echo/x",
        "decision": "deny",
        "reasons": [{"rule": "catalog", "message": "refused"}],
        "data_categories": [],
        "categories_stripped": [],
        "consent_event_ids": [],
        "subject_count": 0,
        "bytes_in": 0,
        **values,
    }


def refused(request_id: str, **values) -> NewRecord:
    return NewRecord(
        fields(request_id, **values), [], [], {"status": 403, "completed_at": utcnow()}
    )


@contextmanager
def chain_lock_held(engine: Engine) -> Iterator[None]:
    """Holds the lock the writer takes to extend the chains, as another instance would."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": CHAIN_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": CHAIN_LOCK})
        return
    connection = sqlite3.connect(engine.url.database, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


@pytest.fixture
def writer(app) -> Iterator[AuditWriter]:
    writer = AuditWriter(audit_engine(db.of(app).engine))
    yield writer
    writer.close()


def stored(app) -> dict[str, ExchangeRecord]:
    with app.app_context():
        return {r.request_id: r for r in db.session.scalars(select(ExchangeRecord))}


def chains_verify(app) -> bool:
    with app.app_context():
        return audit_verify(db.session).ok


def test_an_entry_the_database_refuses_fails_alone_in_its_batch(app, writer, caplog):
    """A duplicate request id (which no fitting can foresee) in a batch with valid
    records and a completion: only it fails, and it takes no sequence number."""
    before = writer_counts()
    opened = writer.submit(NewRecord(fields("opened", decision="allow"), [], [])).result(10)
    engine = db.of(app).engine
    with chain_lock_held(engine):  # everything below queues up into one batch
        receipts = [
            writer.submit(refused("first")),
            writer.submit(refused("opened")),  # taken: the database refuses it
            writer.submit(Completion(opened, {"status": 200, "completed_at": utcnow()})),
            writer.submit(refused("last")),
        ]
        time.sleep(0.3)
    results = []
    for receipt in receipts:
        try:
            results.append(receipt.result(timeout=10))
        except Exception as exc:
            results.append(exc)
    assert "a batch of 4 audit entries failed: each alone" in caplog.text
    assert results[0] == opened + 1
    assert isinstance(results[1], IntegrityError | psycopg.IntegrityError)  # SQLite, PostgreSQL
    assert results[2] == opened
    assert results[3] == opened + 2  # no gap: the refused entry took no number
    records = stored(app)
    assert sorted(r.seq for r in records.values()) == [opened, opened + 1, opened + 2]
    assert records["opened"].status == 200
    assert chains_verify(app)
    written = {"record": 1, "refusal": 2, "completion": 1, "failed: refused": 1}
    assert {kind: writer_counts()[kind] - before[kind] for kind in written} == written


def writer_counts() -> dict[str, float]:
    """The writer's counters in this process: entries written by kind, failures by cause."""
    counts = {
        kind: REGISTRY.get_sample_value("gatehouse_audit_entries_written_total", {"kind": kind})
        for kind in ("record", "refusal", "completion")
    }
    counts["failed: refused"] = REGISTRY.get_sample_value(
        "gatehouse_audit_write_failures_total", {"cause": "refused"}
    )
    return {kind: count or 0.0 for kind, count in counts.items()}


def test_on_sqlite_the_log_commits_to_disk_before_a_call_is_forwarded(app):
    """A record commits before its call goes out: on SQLite the writer's connections
    sync each commit (FULL), while the app's keep WAL's cheaper NORMAL."""
    engine = db.of(app).engine
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL commits durably unless told otherwise")
    log = audit_engine(engine)
    try:
        with log.connect() as writer, engine.connect() as reader:
            synchronous = "PRAGMA synchronous"
            assert writer.exec_driver_sql(synchronous).scalar() == 2  # FULL
            assert reader.exec_driver_sql(synchronous).scalar() == 1  # NORMAL
    finally:
        log.dispose()


def test_values_are_fitted_to_their_columns_before_they_are_queued(app, writer):
    writer.submit(
        refused(
            "fitted",
            path="/proxy/echo/a\x00b" + "c" * 3000,
            tool="ec\x00ho" + "o" * 100,
            purpose="\ud800" + "p" * 200,
            reasons=[{"rule": "catalog", "message": "no tool 'ec\x00ho'", "k\x00": ["\x00"]}],
            bytes_in=10**12,
        )
    ).result(timeout=10)
    record = stored(app)["fitted"]
    assert record.path == ("/proxy/echo/a" + REPLACEMENT + "b" + "c" * 3000)[:2048]
    assert record.tool == ("ec" + REPLACEMENT + "ho" + "o" * 100)[:64]
    assert record.purpose == (REPLACEMENT + "p" * 200)[:100]
    assert record.reasons == [
        {
            "rule": "catalog",
            "message": f"no tool 'ec{REPLACEMENT}ho'",
            f"k{REPLACEMENT}": [REPLACEMENT],
        }
    ]
    assert record.bytes_in == 2**31 - 1  # declared by the client; the column holds no more
    assert chains_verify(app)


def test_a_value_of_the_wrong_type_fails_its_own_record(writer):
    with pytest.raises(TypeError, match="subject_count"):
        writer.submit(refused("typed", subject_count="3")).result(timeout=10)


def raw_call(gateway: str, path: str, token: str, **headers: str) -> int:
    """A request as a client may send it, unencoded by any library."""
    address = urlsplit(gateway)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.putheader("Authorization", f"Bearer {token}")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_poisoned_calls_of_one_app_leave_another_apps_calls_whole(app, gateway, upstream):
    """Two apps at once: one sends what the database would refuse (NUL characters in the
    path and tool, a body size no column holds), the other valid calls. Every valid call
    is forwarded and answered; every call is recorded; the chains verify."""
    document = echo_document(upstream.url + "/api")
    document["clients"].append({"name": "poison-app", "department": "growth", "scopes": ["proxy"]})
    valid_app, poison_app = apply(app, document).new_clients
    valid, poison = get_token(gateway, valid_app), get_token(gateway, poison_app)
    poisons = [
        ("/proxy/echo/x%00y", {}),
        ("/proxy/ec%00ho/x", {}),
        ("/proxy/echo/x", {"Content-Length": str(10**12), "Connection": "close"}),
    ]

    def call_valid(_: int) -> int:
        return requests.get(
            gateway + "/proxy/echo/x", headers={"Authorization": f"Bearer {valid}"}, timeout=10
        ).status_code

    def call_poisoned(number: int) -> int:
        path, headers = poisons[number % len(poisons)]
        return raw_call(gateway, path, poison, **headers)

    with ThreadPoolExecutor(16) as pool:
        answers = [pool.submit(call_valid if n % 2 else call_poisoned, n) for n in range(120)]
        statuses = [answer.result() for answer in answers]
    valid_statuses, poisoned_statuses = statuses[1::2], statuses[0::2]
    assert valid_statuses == [200] * 60
    assert 503 not in poisoned_statuses and set(poisoned_statuses) <= {400, 404, 413}
    assert len(upstream.requests) == 60
    records = stored(app)
    assert len(records) == 120
    assert {r.tool for r in records.values()} == {"echo", f"ec{REPLACEMENT}ho"}
    assert max(r.bytes_in for r in records.values()) == 2**31 - 1
    assert chains_verify(app)

"""A database that is down, stalled or locked: 503 within a bounded wait, nothing
forwarded, no 500, and service again as soon as it is back, without a restart.

The outages are real: on PostgreSQL a throwaway database of our own refuses connections
(its backends ended), or a TCP relay in front of the server stops answering; on SQLite
another connection holds the write lock.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.audit.models import ExchangeRecord
from gateway.audit.verify import verify as audit_verify
from gateway.audit.writer import Receipt
from gateway.config import Config
from gateway.db import db, make_engine
from gateway.migrate import upgrade
from tests.conftest import (
    SANDBOX_MAILCHIMP_KEY,
    apply,
    close,
    demo_document,
    get_token,
    grant_consent,
    serve,
)
from tests.ports import free_port
from tests.test_audit_isolation import chain_lock_held
from tests.test_proxy import MEMBER, MEMBERS_PATH, assert_problem

#: The waits of these tests: a call gives up after at most about two database waits
#: (the consent lookup, and a snapshot check) and one wait for its record.
DATABASE_TIMEOUT = 1.0
AUDIT_TIMEOUT = 1.5
#: libpq waits at least 2 s to connect, whatever it is told.
CONNECT_WAIT = 2.0


@dataclass
class Gateway:
    """A gateway served on loopback, its demo app, and an API client for auditors."""

    app: object
    url: str
    proxy: str = ""
    api: str = ""

    def call(self) -> requests.Response:
        """A call that needs a consent lookup: Ada's subscription."""
        return requests.post(
            self.url + MEMBERS_PATH,
            json=MEMBER,
            headers={"Authorization": f"Bearer {self.proxy}"},
            timeout=30,
        )

    def ping(self) -> requests.Response:
        """A call that needs no consent lookup."""
        return requests.get(
            self.url + "/proxy/mailchimp/ping",
            headers={"Authorization": f"Bearer {self.proxy}"},
            timeout=30,
        )

    def get(self, path: str) -> requests.Response:
        return requests.get(
            self.url + path, headers={"Authorization": f"Bearer {self.api}"}, timeout=30
        )

    def record_consent(self) -> requests.Response:
        event = {"email": "alan@example.com", "purpose": "analytics", "status": "granted"}
        return requests.post(
            self.url + "/api/v1/consent/events",
            json={**event, "source": "test-cmp"},
            headers={"Authorization": f"Bearer {self.api}"},
            timeout=30,
        )


@contextmanager
def gateway_on(config: Config, vendor_url: str) -> Iterator[Gateway]:
    """A gateway on ``config``'s database with the demo catalog, its tool at ``vendor_url``."""
    app = create_app(config)
    live = serve(app)
    try:
        document = demo_document(vendor_url)
        document["clients"].append(
            {
                "name": "auditor",
                "department": "growth",
                "scopes": ["audit:read", "consent:read", "consent:write"],
            }
        )
        proxy_app, auditor = apply(app, document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY}).new_clients
        grant_consent(app, "marketing.communications.email", "ada@example.com")
        gateway = Gateway(app, live.url)
        gateway.proxy = get_token(live.url, proxy_app)
        gateway.api = get_token(live.url, auditor)
        yield gateway
    finally:
        live.stop()
        close(app)


def timed(call) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response: requests.Response, *slugs: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["type"].rsplit("/", 1)[1] in slugs, body
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"]
    assert "psycopg" not in response.text and "sqlite" not in response.text.lower()


@pytest.fixture
def outage_database(config, database_url) -> Iterator[str]:
    """A database of this test's own, migrated: on PostgreSQL a throwaway one (never
    the shared test database), on SQLite the test database (it is only locked)."""
    if not database_url.startswith("postgresql"):
        yield database_url
        return
    url = make_url(database_url).set(database=make_url(database_url).database + "_outage")
    admin = make_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    migrated = make_engine(url.render_as_string(hide_password=False))
    upgrade(migrated)
    migrated.dispose()
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true'))
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def outage(database_url: str) -> Iterator[None]:
    """PostgreSQL: the database refuses connections and its backends are ended (as in a
    restart). SQLite: another connection holds the write lock."""
    engine = make_engine(database_url)
    if engine.dialect.name != "postgresql":
        with chain_lock_held(engine):
            yield
        engine.dispose()
        return
    name = engine.url.database
    server = make_engine(engine.url.set(database="postgres").render_as_string(hide_password=False))
    with server.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        try:
            yield
        finally:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    server.dispose()
    engine.dispose()


def test_a_database_outage_answers_503_in_bounded_time_and_recovers(
    config, outage_database, upstream
):
    settings = config.with_overrides(
        database_url=outage_database,
        database_timeout=DATABASE_TIMEOUT,
        audit_timeout=AUDIT_TIMEOUT,
    )
    postgresql = outage_database.startswith("postgresql")
    with gateway_on(settings, upstream.url) as gateway:
        assert gateway.call().status_code == 200
        assert len(upstream.requests) == 1
        with outage(outage_database):
            for call in (gateway.call, gateway.ping, gateway.call):
                response, took = timed(call)
                assert_unavailable(response, "database-unavailable", "audit-unavailable")
                assert took < 2 * CONNECT_WAIT + AUDIT_TIMEOUT
            assert len(upstream.requests) == 1, "forwarded while nothing could be recorded"
            response, took = timed(lambda: gateway.get("/readyz"))
            assert_problem(response, 503, "not-ready")
            assert took < AUDIT_TIMEOUT + 1
            # The auditors' API records each query: it cannot answer either.
            assert_unavailable(gateway.get("/api/v1/audit/exchanges"), "database-unavailable")
            assert_unavailable(gateway.record_consent(), "database-unavailable")
            if postgresql:  # on SQLite the lock leaves reads possible
                consent = gateway.get("/api/v1/consent?email=ada@example.com")
                assert_unavailable(consent, "database-unavailable")
        assert gateway.get("/readyz").status_code == 200
        assert gateway.call().status_code == 200
        assert len(upstream.requests) == 2
        assert gateway.get("/api/v1/audit/exchanges").status_code == 200
        assert gateway.record_consent().status_code == 201
        with gateway.app.app_context():
            statuses = db.session.scalars(select(ExchangeRecord.status)).all()
            assert 500 not in statuses
            assert audit_verify(db.session).ok


class StallingRelay:
    """A TCP relay to PostgreSQL that can stall: then it drops the connections it
    relays and accepts new ones that it never answers, as a hung server or a dead
    host behind a load balancer does."""

    def __init__(self, target: tuple[str, int], port: int = 0) -> None:
        self.target = target
        self.stalled = False
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        with self._lock:
            self.stalled = True
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def resume(self) -> None:
        with self._lock:
            self.stalled = False
            for sock in self._sockets:  # the connections accepted while stalled
                sock.close()
            self._sockets.clear()

    def close(self) -> None:
        self.stall()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
                if self.stalled:
                    continue
                server = socket.create_connection(self.target)
                self._sockets.append(server)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            sock.close()


@pytest.fixture
def relay(database_url) -> Iterator[StallingRelay]:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a relay to a database server; SQLite has none")
    relay = StallingRelay((url.host or "127.0.0.1", url.port or 5432))
    yield relay
    relay.close()


def test_a_stalled_database_answers_503_within_the_timeouts_and_recovers(
    config, database_url, relay, upstream
):
    relayed = make_url(database_url).set(host="127.0.0.1", port=relay.port)
    settings = config.with_overrides(
        database_url=relayed.render_as_string(hide_password=False),
        database_timeout=DATABASE_TIMEOUT,
        audit_timeout=AUDIT_TIMEOUT,
        snapshot_max_age=30.0,  # a snapshot check costs a database wait too (not timed here)
    )
    with gateway_on(settings, upstream.url) as gateway:
        first = gateway.call()
        assert first.status_code == 200
        # Its outcome is written after the answer: the stall is to find the log idle.
        _completed_record(gateway.app, first.headers["X-Request-Id"])
        relay.stall()
        try:
            response, took = timed(gateway.call)
            assert_unavailable(response, "database-unavailable", "audit-unavailable")
            assert took < CONNECT_WAIT + AUDIT_TIMEOUT + 1
            response, took = timed(lambda: gateway.get("/readyz"))
            assert_problem(response, 503, "not-ready")
            assert took < AUDIT_TIMEOUT + 1
            response, took = timed(lambda: gateway.get("/api/v1/consent?email=ada@example.com"))
            assert_unavailable(response, "database-unavailable")
            assert took < CONNECT_WAIT + 1
            assert len(upstream.requests) == 1
        finally:
            relay.resume()
        deadline = time.monotonic() + 10  # the writer may still be waiting for a connection
        while gateway.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert gateway.call().status_code == 200
        assert len(upstream.requests) == 2


def test_a_record_written_after_its_call_gave_up_says_it_was_not_forwarded(config, upstream):
    """The chain lock is held (by another instance, say) longer than a call waits for
    its record: the call is answered 503 without being forwarded, and when the record
    is written after all, its outcome says so; it is never left allowed and pending.
    The database would wait far longer than the call (20 s against 0.5 s), so a call
    answered within seconds gave up at its own timeout, however loaded the machine."""
    app = create_app(config.with_overrides(audit_timeout=0.5, database_timeout=20))
    live = serve(app)
    try:
        document = demo_document(upstream.url)
        proxy_app = apply(app, document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY}).new_clients[0]
        grant_consent(app, "marketing.communications.email", "ada@example.com")
        token = get_token(live.url, proxy_app)

        def call() -> requests.Response:
            headers = {"Authorization": f"Bearer {token}"}
            return requests.post(live.url + MEMBERS_PATH, json=MEMBER, headers=headers, timeout=30)

        assert call().status_code == 200  # what a first call loads is loaded
        with chain_lock_held(db.of(app).engine):
            response, took = timed(call)
            assert_unavailable(response, "audit-unavailable")
            assert took < 10
            time.sleep(0.2)  # the record is still waiting for the lock
        record = _completed_record(app, response.headers["X-Request-Id"])
        assert (record.decision, record.outcome.value) == ("allow", "completed")
        assert (record.status, record.error, record.upstream_status) == (
            503,
            "audit-unavailable",
            None,
        )
        assert len(upstream.requests) == 1  # the first call's
        with app.app_context():
            assert audit_verify(db.session).ok
    finally:
        live.stop()
        close(app)


def test_a_gateway_started_while_its_database_is_down_serves_once_it_is_up(
    app, gateway, config, database_url, upstream
):
    """Its database's port closed at start: 503s (never 500) until a server listens
    there, then service, without a restart."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a database server that comes up later; SQLite has none")
    proxy_app = apply(app, demo_document(upstream.url), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    grant_consent(app, "marketing.communications.email", "ada@example.com")
    token = get_token(gateway, proxy_app.new_clients[0])  # from an instance that is up
    port = free_port()
    settings = config.with_overrides(
        database_url=url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False),
        database_timeout=DATABASE_TIMEOUT,
        audit_timeout=AUDIT_TIMEOUT,
    )
    late = create_app(settings)
    live = serve(late)
    started = Gateway(late, live.url, proxy=token)
    relay = None
    try:
        for call in (started.call, started.ping, lambda: started.get("/readyz")):
            response, took = timed(call)
            assert response.status_code == 503, response.text
            assert took < CONNECT_WAIT  # refused at once, not waited on
        relay = StallingRelay((url.host or "127.0.0.1", url.port or 5432), port)
        assert started.get("/readyz").status_code == 200
        assert started.call().status_code == 200
        assert [r["path"] for r in upstream.requests] == ["/mailchimp/3.0/lists/a1b2c3d4e5/members"]
    finally:
        live.stop()
        close(late)
        if relay is not None:
            relay.close()


def _completed_record(app, request_id: str) -> ExchangeRecord:
    deadline = time.monotonic() + 10
    while True:
        with app.app_context():
            record = db.session.scalars(
                select(ExchangeRecord).where(ExchangeRecord.request_id == request_id)
            ).first()
        if (record is not None and record.outcome_seq is not None) or time.monotonic() > deadline:
            assert record is not None, "the record was never written"
            return record
        time.sleep(0.1)


def test_a_consent_lookup_past_the_statement_timeout_is_refused_and_recorded(
    config, database_url, upstream
):
    """PostgreSQL: the consent table locked (a migration, say) past the statement timeout:
    the call is refused with 503, recorded as such, and nothing is forwarded."""
    if not database_url.startswith("postgresql"):
        pytest.skip("statement timeouts are PostgreSQL's")
    settings = config.with_overrides(database_timeout=DATABASE_TIMEOUT)
    with gateway_on(settings, upstream.url) as gateway:
        locker = make_engine(database_url)
        with locker.begin() as connection:
            connection.execute(text("LOCK TABLE consent_states IN ACCESS EXCLUSIVE MODE"))
            response, took = timed(gateway.call)
        locker.dispose()
        assert_unavailable(response, "database-unavailable")
        assert DATABASE_TIMEOUT <= took < DATABASE_TIMEOUT + 1
        assert upstream.requests == []
        with gateway.app.app_context():
            record = db.session.scalars(
                select(ExchangeRecord).where(
                    ExchangeRecord.request_id == response.headers["X-Request-Id"]
                )
            ).one()
        assert (record.decision, record.status, record.error) == (
            "deny",
            503,
            "database-unavailable",
        )
        assert record.reasons[0]["rule"] == "database_unavailable"
        assert gateway.call().status_code == 200


@pytest.mark.parametrize("settled_first", [True, False])
def test_a_receipt_given_up_on_acts_once_if_written_and_never_if_refused(settled_first):
    """Whether the writer settles the entries before or after their requests give up."""
    written, refused, acted = Receipt(), Receipt(), []

    def settle() -> None:
        written.set_result(7)
        refused.set_exception(RuntimeError("refused"))

    if settled_first:
        settle()
    for receipt in (written, refused):
        receipt.if_written_later(acted.append)
    if not settled_first:
        settle()
    assert acted == [7]

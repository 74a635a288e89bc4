"""Fixtures: a migrated database (SQLite, or PostgreSQL when asked), real servers on loopback.

``GATEHOUSE_TEST_DATABASE_URL`` selects PostgreSQL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; its ``public`` schema is
dropped and rebuilt by the migrations at the start of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, delete, make_url, text
from werkzeug.serving import make_server

from catalog.declarative import apply_document
from connectors.sandbox import create_sandbox_app
from connectors.sandbox.vendors import mailchimp as mailchimp_sandbox
from gateway.app import create_app
from gateway.config import Config
from gateway.db import Base, db, make_engine
from gateway.identity.actors import Actor
from gateway.migrate import upgrade
from gateway.oauth.apps import register_app
from gateway.oauth.models import SigningKey
from gateway.vault import vault_of
from policies.consent import ConsentStatus, NewConsent, record_consents
from policies.subjects import subject_key
from tests.upstream import RecordingUpstream

#: Fixtures shared by several test modules: ``redis_url``, a redis-server of the test's own.
pytest_plugins = ["tests.redis_server"]

SANDBOX_MAILCHIMP_KEY = mailchimp_sandbox.CREDENTIALS["api_key"]
GATEHOUSE = str(Path(sys.executable).with_name("gatehouse"))
#: Kept across tests: generating an RSA key for every test would only cost time.
PRESERVED_TABLES = {SigningKey.__tablename__, "state_versions"}
ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("GATEHOUSE_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'gatehouse.db'}"
    url = _database_of_this_worker(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist each worker gets a database of its own, named after the given one
    (``test`` → ``test_gw0``), created on first use."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    given = make_url(url)
    own = given.set(database=f"{given.database}_{worker}")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def upstream_read_timeout() -> float:
    """Long enough that an ordinary vendor call never times out on a loaded CI machine;
    a test about timeouts asks for a short one (``parametrize("upstream_read_timeout")``)."""
    return 10.0


@pytest.fixture
def config(database_url, migrated_engine, tmp_path, upstream_read_timeout) -> Config:
    return Config(
        database_url=database_url,
        secret_key="test-secret-key",
        encryption_keys=(ENCRYPTION_KEY,),
        subject_pepper="test-pepper",
        instance_path=tmp_path / "instance",
        snapshot_max_age=0,
        upstream_read_timeout=upstream_read_timeout,
        upstream_connect_timeout=1.0,
        max_body_bytes=64 * 1024,
    )


@pytest.fixture(autouse=True)
def _empty_tables(request) -> Iterator[None]:
    yield
    if "migrated_engine" not in request.fixturenames:
        return
    engine = request.getfixturevalue("migrated_engine")
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # the log is append-only but for pruning
            connection.execute(text("SET LOCAL gatehouse.pruning = 'on'"))
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in PRESERVED_TABLES:
                connection.execute(delete(table))


def close(app) -> None:
    """Give back the app's database connections (a test run makes hundreds of apps)."""
    db.of(app).dispose()
    app.extensions["gatehouse.proxy"].log.close()


def settled(app) -> None:
    """Waits until the outcomes the app's calls handed to the writer are written: a call
    is answered before its outcome is committed."""
    app.extensions["gatehouse.proxy"].log.probe()


@pytest.fixture
def app(config):
    app = create_app(config)
    app.config["TESTING"] = True
    yield app
    close(app)


@dataclass
class LiveServer:
    url: str
    _server: object

    def stop(self) -> None:
        self._server.shutdown()


def serve(wsgi_app) -> LiveServer:
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return LiveServer(f"http://127.0.0.1:{server.server_port}", server)


@pytest.fixture
def gateway(app) -> Iterator[str]:
    live = serve(app)
    yield live.url
    live.stop()


class RecordedFirst:
    """WSGI middleware for the sandbox: a request from the gateway must already have its
    exchange record committed (seen through a separate connection) when it arrives."""

    def __init__(self, app, engine) -> None:
        self.app, self.engine, self.unrecorded = app, engine, []

    def __call__(self, environ, start_response):
        request_id = environ.get("HTTP_X_REQUEST_ID")
        if request_id:
            with self.engine.connect() as connection:
                found = connection.execute(
                    text("SELECT 1 FROM exchanges WHERE request_id = :id"), {"id": request_id}
                ).first()
            if found is None:
                self.unrecorded.append(environ.get("PATH_INFO"))
        return self.app(environ, start_response)


@pytest.fixture
def sandbox(migrated_engine) -> Iterator[str]:
    checked = RecordedFirst(create_sandbox_app(), migrated_engine)
    live = serve(checked)
    yield live.url
    live.stop()
    assert checked.unrecorded == [], "reached the vendor without a committed record"


@pytest.fixture
def upstream() -> Iterator[RecordingUpstream]:
    recording = RecordingUpstream()
    live = serve(recording.wsgi)
    recording.url = live.url
    yield recording
    live.stop()


def apply(app, document: dict, environ: dict | None = None):
    """Apply a catalog document as `gatehouse apply` would, and commit."""
    with app.app_context():
        folders = app.extensions["gatehouse.config"].connector_folders
        report = apply_document(db.session, document, vault_of(app), environ or {}, folders)
        db.session.commit()
        return report


def demo_document(sandbox_url: str, status: str = "approved") -> dict:
    """A department, a Mailchimp tool at the sandbox, a grant and an app."""
    return {
        "departments": [{"slug": "growth", "name": "Growth"}],
        "tools": [
            {
                "slug": "mailchimp",
                "name": "Mailchimp",
                "connector": "mailchimp",
                "base_url": f"{sandbox_url}/mailchimp/3.0",
                "allow_private_network": True,  # the sandbox listens on loopback
                "status": status,
                "country": "US",
                "transfer_basis": "dpf",
                "credentials": {"api_key": "from-env:MC_KEY"},
            }
        ],
        "grants": [
            {
                "department": "growth",
                "tool": "mailchimp",
                "purposes": ["marketing.communications", "essential.service.operations"],
                "data_categories": ["user.contact.email", "user.name"],
            }
        ],
        "clients": [{"name": "newsletter-app", "department": "growth", "scopes": ["proxy"]}],
    }


def grant_consent(
    app, purpose: str, *identifiers: str, kind: str = "email", status: str = "granted", **extra
) -> list[int]:
    """Record consent events for these people, as a CMP would; returns the event ids."""
    pepper = app.extensions["gatehouse.config"].subject_pepper.encode()
    with app.app_context():
        events = record_consents(
            db.session,
            [
                NewConsent(
                    subject_key=subject_key(pepper, kind, identifier),
                    purpose=purpose,
                    status=ConsentStatus(status),
                    source="test-cmp",
                    occurred_at=extra.get("occurred_at", datetime.now(UTC)),
                    expires_at=extra.get("expires_at"),
                )
                for identifier in identifiers
            ],
        )
        db.session.commit()
        return [event.id for event in events]


@dataclass
class AppCredentials:
    client_id: str
    client_secret: str


@pytest.fixture
def demo(app, sandbox) -> AppCredentials:
    """The demo catalog; Ada and Alan consented to e-mail marketing."""
    report = apply(app, demo_document(sandbox), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    grant_consent(app, "marketing.communications.email", "ada@example.com", "alan@example.com")
    client = report.new_clients[0]
    return AppCredentials(client.client_id, client.client_secret)


def register_test_app(
    app, name: str, scopes: list[str], department: str = "growth"
) -> AppCredentials:
    """An app of ``department`` (which must exist) holding these scopes, as an operator
    registers one."""
    with app.app_context():
        client, secret = register_app(
            db.session, Actor.for_operator(), "test", name, department, scopes=scopes
        )
        db.session.commit()
        return AppCredentials(client.client_id, secret)


def get_token(gateway_url: str, credentials: AppCredentials) -> str:
    response = requests.post(
        f"{gateway_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client_id, credentials.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def sandbox_requests(sandbox_url: str) -> list[dict]:
    return requests.get(f"{sandbox_url}/_sandbox/requests", timeout=10).json()


@pytest.fixture
def demo_token(gateway, demo) -> str:
    """The demo app's access token; Ada and Alan consented to e-mail marketing."""
    return get_token(gateway, demo)


@pytest.fixture
def cli_env(config, tmp_path) -> dict[str, str]:
    """The environment of a ``gatehouse`` process working on the test database."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")},
        "GATEHOUSE_DATABASE_URL": config.database_url,
        "GATEHOUSE_SECRET_KEY": config.secret_key,
        "GATEHOUSE_ENCRYPTION_KEYS": ",".join(config.encryption_keys),
        "GATEHOUSE_SUBJECT_PEPPER": config.subject_pepper,
        "GATEHOUSE_INSTANCE_PATH": str(tmp_path / "instance"),
        "MC_KEY": "cli-key-us21",
    }


@pytest.fixture
def cli(cli_env):
    """Run the real ``gatehouse`` command on the test database, as an operator would."""

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [GATEHOUSE, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=cli_env,
            timeout=120,
        )

    return run

"""Two real `gatehouse serve` instances, two workers each, on different ports, sharing
PostgreSQL and Redis, behave as one.

A tool suspended, or an app's API key revoked, through one instance's API is refused by
the other within a second; a token signing key made or retired by the CLI is used or
refused by both within a second. The version poll is set to 30 seconds on both, so only the
database's change announcements (``LISTEN``/``NOTIFY``) can explain that; a listener
whose connection is killed reconnects and hears changes again. After concurrent traffic
through both, ``gatehouse audit verify`` finds both hash chains whole, one record per
call. (That several instances on one host keep their own runtime folders and control
sockets is tested in ``test_metrics_instances``.)
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text

from connectors.sandbox import create_sandbox_app
from gateway.app import create_app
from gateway.change_listener import APPLICATION_NAME
from gateway.config import Config
from gateway.db import db
from gateway.oauth.models import Client
from tests.conftest import (
    ENCRYPTION_KEY,
    GATEHOUSE,
    SANDBOX_MAILCHIMP_KEY,
    AppCredentials,
    apply,
    close,
    demo_document,
    get_token,
    grant_consent,
    register_test_app,
    serve,
)
from tests.instances import Instance, instance_environment, start_instance
from tests.test_signing_keys import kid_of

pytestmark = pytest.mark.skipif(
    not os.environ.get("GATEHOUSE_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="instances hear each other's changes through PostgreSQL's LISTEN/NOTIFY, and "
    "share its chain lock; run with GATEHOUSE_TEST_DATABASE_URL=postgresql+psycopg://...",
)

PING = "/proxy/mailchimp/ping"
MEMBERS = "/proxy/mailchimp/lists/a1b2c3d4e5/members"
#: What every instance polls at most: a change seen sooner was announced.
POLL = "30"
WITHIN = 1.0


@dataclass
class Deployment:
    a: Instance
    b: Instance
    app: object
    engine: object
    newsletter: AppCredentials
    reviewer: AppCredentials
    admin: AppCredentials
    cli_env: dict


def wait_for(condition: Callable[[], bool], seconds: float, message: str) -> float:
    """Seconds until ``condition`` held, tried every 10 ms; fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(message)
        time.sleep(0.01)
    return time.monotonic() - started


def listeners(engine) -> set[int]:
    """The backends of the workers' listening connections to this database."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name LIKE :name AND query ILIKE 'LISTEN%'"
            ),
            {"name": f"{APPLICATION_NAME}-%"},
        )
        return {pid for (pid,) in rows}


@pytest.fixture
def deployment(database_url, migrated_engine, redis_url, tmp_path) -> Iterator[Deployment]:
    config = Config(
        database_url=database_url,
        secret_key="test-secret-key",
        encryption_keys=(ENCRYPTION_KEY,),
        subject_pepper="test-pepper",
        instance_path=tmp_path / "instance",
    )
    app = create_app(config)
    sandbox = serve(create_sandbox_app())
    instances: list[Instance] = []
    try:
        apply(app, demo_document(sandbox.url), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
        grant_consent(app, "marketing.communications.email", "ada@example.com")
        newsletter = register_test_app(app, "newsletter", ["proxy"])
        reviewer = register_test_app(app, "reviewer-bot", ["reviews:write"])
        admin = register_test_app(app, "admin-bot", ["catalog:read", "apps:write"])
        environment = instance_environment(
            config,
            GATEHOUSE_REDIS_URL=redis_url,
            GATEHOUSE_SNAPSHOT_MAX_AGE=POLL,
            GATEHOUSE_SNAPSHOT_POLL=POLL,
            MC_KEY=SANDBOX_MAILCHIMP_KEY,
        )
        for name in ("a", "b"):
            instances.append(start_instance(environment, tmp_path / f"{name}.log"))
        wait_for(lambda: len(listeners(migrated_engine)) == 4, 60, "not every worker listens")
        yield Deployment(*instances, app, migrated_engine, newsletter, reviewer, admin, environment)
    finally:
        for instance in instances:
            instance.stop()
        sandbox.stop()
        close(app)


def answered_everywhere(instance: Instance, path: str, token: str, status: int) -> None:
    """Eight calls, each on a new connection (both workers take some), answer ``status``."""
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: instance.call(path, token), range(8)))
    assert statuses == [status] * 8


def change_reaches(deployment: Deployment, change: Callable[[], None], seen: Callable[[], bool]):
    """Makes ``change`` through instance A; instance B shows it (``seen``) within a second."""
    change()
    changed_at = time.monotonic()
    took = wait_for(seen, 5, "instance B never saw the change")
    assert took < WITHIN, f"instance B saw the change after {took:.3f} s"
    time.sleep(max(0.0, changed_at + WITHIN - time.monotonic()))


def test_a_tool_suspended_through_one_instance_is_refused_by_the_other(deployment):
    a, b = deployment.a, deployment.b
    token = get_token(b.url, deployment.newsletter)
    reviewer = get_token(a.url, deployment.reviewer)
    answered_everywhere(b, PING, token, 200)  # both of B's workers have built their catalog

    def set_status(status: str) -> Callable[[], None]:
        def change() -> None:
            body = {"status": status, "reason": "the vendor reported a breach"}
            assert a.api("POST", "/tools/mailchimp/status", reviewer, json=body).ok

        return change

    change_reaches(deployment, set_status("suspended"), lambda: b.call(PING, token) == 403)
    answered_everywhere(b, PING, token, 403)
    change_reaches(deployment, set_status("approved"), lambda: b.call(PING, token) == 200)
    answered_everywhere(b, PING, token, 200)
    assert b.metric("gatehouse_change_notifications_total") >= 2


def test_an_api_key_revoked_through_one_instance_is_refused_by_the_other(deployment):
    a, b = deployment.a, deployment.b
    admin = get_token(a.url, deployment.admin)
    with deployment.app.app_context():
        app_id = db.session.scalar(select(Client.id).where(Client.name == "newsletter"))
    created = a.api("POST", f"/apps/{app_id}/keys", admin, json={"name": "ci"})
    assert created.status_code == 201, created.text
    key, key_id = created.json()["api_key"], created.json()["key"]["key_id"]
    wait_for(lambda: b.call(PING, key) == 200, WITHIN, "B did not accept the new key in time")
    answered_everywhere(b, PING, key, 200)

    def revoke() -> None:
        assert a.api("DELETE", f"/apps/{app_id}/keys/{key_id}", admin).ok

    change_reaches(deployment, revoke, lambda: b.call(PING, key) == 401)
    answered_everywhere(b, PING, key, 401)


def test_a_killed_listener_reconnects_and_hears_changes_again(deployment):
    a, b = deployment.a, deployment.b
    token = get_token(b.url, deployment.newsletter)
    reviewer = get_token(a.url, deployment.reviewer)
    answered_everywhere(b, PING, token, 200)
    killed = listeners(deployment.engine)
    with deployment.engine.connect() as connection:
        for pid in killed:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    wait_for(
        lambda: len(listeners(deployment.engine) - killed) == 4, 10, "the listeners stayed down"
    )
    assert b.metric("gatehouse_change_listener_connections_total", event="lost") == 2
    assert b.metric("gatehouse_change_listener_connections_total", event="restored") == 2
    assert b.metric("gatehouse_change_listeners_up") == 2
    assert "not hearing database changes" in b.log.read_text()

    def suspend() -> None:
        body = {"status": "suspended", "reason": "the vendor reported a breach"}
        assert a.api("POST", "/tools/mailchimp/status", reviewer, json=body).ok

    change_reaches(deployment, suspend, lambda: b.call(PING, token) == 403)
    answered_everywhere(b, PING, token, 403)


def test_after_concurrent_traffic_through_both_the_chains_verify(deployment, tmp_path):
    a, b = deployment.a, deployment.b
    tokens = {instance.url: get_token(instance.url, deployment.newsletter) for instance in (a, b)}
    kinds = [
        (PING, None),  # allowed
        (MEMBERS, {"email_address": "ada@example.com", "status": "subscribed"}),  # allowed
        (MEMBERS, {"email_address": "eve@example.com", "status": "subscribed"}),  # no consent
        ("/proxy/no-such-tool/ping", None),  # refused: not in the catalog
    ]
    calls = [((a, b)[n % 2], *kinds[n % len(kinds)]) for n in range(200)]

    def call(instance: Instance, path: str, body: dict | None) -> int:
        return instance.call(path, tokens[instance.url], body)

    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(pool.map(lambda c: call(*c), calls))
    # Each forwarded call answered by the vendor (ada's second subscription: 400, exists).
    assert statuses[403] == statuses[404] == 50, statuses
    assert statuses[200] + statuses[400] == 100, statuses

    def gatehouse(*args: str) -> str:
        done = subprocess.run(
            [GATEHOUSE, *args], capture_output=True, text=True, env=deployment.cli_env, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    checkpoint = tmp_path / "checkpoint.json"
    gatehouse("audit", "checkpoint", "--output", str(checkpoint))
    report = gatehouse("audit", "verify", "--checkpoint", str(checkpoint))
    counts = re.search(
        r"(\d+) records, (\d+) valid; (\d+) outcomes, (\d+) valid; 0 problems", report
    )
    assert counts, report
    records, valid_records, outcomes, valid_outcomes = map(int, counts.groups())
    assert records == valid_records == 200
    assert outcomes == valid_outcomes >= 100  # each forwarded call's completion
    assert "tail checked against the checkpoint" in report


def test_a_signing_key_made_and_retired_by_the_cli_reaches_the_other_instances(deployment):
    a, b = deployment.a, deployment.b
    old_token = get_token(b.url, deployment.newsletter)
    answered_everywhere(b, PING, old_token, 200)  # both of B's workers verified it

    def keys(*args: str) -> str:
        done = subprocess.run(
            [GATEHOUSE, "keys", *args],
            capture_output=True,
            text=True,
            env=deployment.cli_env,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    made: list[str] = []
    change_reaches(
        deployment,
        lambda: made.append(keys("new", "token").split()[4].rstrip(":")),
        lambda: kid_of(get_token(b.url, deployment.newsletter)) == made[0],
    )
    answered_everywhere(b, PING, get_token(a.url, deployment.newsletter), 200)
    change_reaches(
        deployment, lambda: keys("retire", "token", "--now"), lambda: b.call(PING, old_token) == 401
    )
    answered_everywhere(b, PING, old_token, 401)

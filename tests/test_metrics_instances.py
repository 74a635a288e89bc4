"""`/metrics` of two real `gatehouse serve` instances, two workers each, sharing one
database, add up to the exchange log's counts per tool, department and decision.

One setup for the module: both instances start, the traffic goes through both (calls
allowed, refused for a grant, for consent, for a missing token, to an unknown tool, and
failed by the vendor, from apps of three departments), then every figure the tests
check is taken before the first test ends (the database is emptied after each test).
Instance A is given an operator's ``PROMETHEUS_MULTIPROC_DIR`` holding stale samples;
instance B makes its own folder and requires a bearer token for ``/metrics``.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from connectors.sandbox import create_sandbox_app
from gateway.app import create_app
from gateway.audit.models import ExchangeRecord
from gateway.config import Config
from gateway.db import db
from tests.conftest import (
    ENCRYPTION_KEY,
    SANDBOX_MAILCHIMP_KEY,
    apply,
    close,
    get_token,
    grant_consent,
    serve,
)
from tests.instances import Instance, instance_environment, start_instance
from tests.ports import free_port

METRICS_TOKEN = "scrape-token-of-instance-b"
MEMBERS = "/proxy/mailchimp/lists/a1b2c3d4e5/members"
BATCH = "/proxy/mailchimp/lists/a1b2c3d4e5"
SCRAPES = 6


def member(name: str) -> dict:
    return {"email_address": f"{name}@example.com", "status": "subscribed"}


#: Per instance: (app, method, path, JSON body, times); "-" is a caller with no token.
TRAFFIC = [
    ("newsletter-app", "POST", MEMBERS, member("ada"), 3),
    ("newsletter-app", "POST", MEMBERS, member("eve"), 2),
    ("newsletter-app", "GET", "/proxy/mailchimp/ping", None, 3),
    ("newsletter-app", "GET", "/proxy/no-such-tool/ping", None, 2),
    ("crm-sync", "POST", MEMBERS, member("alan"), 3),
    ("crm-sync", "POST", BATCH, {"members": [member("eve"), member("alan")]}, 2),
    ("crm-sync", "GET", "/proxy/mailchimp-eu/ping", None, 2),
    ("events-app", "POST", MEMBERS, member("ada"), 2),
    ("-", "GET", "/proxy/mailchimp/ping", None, 2),
]


@dataclass
class Deployment:
    a: Instance
    b: Instance
    operator_folder: Path
    #: (tool, department, decision) -> calls, as the exchange log has them.
    logged: Counter
    #: The files in the operator's folder once the traffic was through.
    sample_files: list[str]
    #: Failed vendor calls in the log, by problem slug.
    vendor_failures: Counter


def catalog(sandbox_url: str, closed_port: int) -> dict:
    """Three departments: two granted Mailchimp, one not; a second Mailchimp account whose
    address nothing listens on."""
    mailchimp = {
        "connector": "mailchimp",
        "allow_private_network": True,
        "status": "approved",
        "country": "US",
        "transfer_basis": "dpf",
        "credentials": {"api_key": "from-env:MC_KEY"},
    }
    grant = {
        "purposes": ["marketing.communications", "essential.service.operations"],
        "data_categories": ["user.contact.email", "user.name"],
    }
    return {
        "departments": [
            {"slug": "growth", "name": "Growth"},
            {"slug": "sales", "name": "Sales"},
            {"slug": "events", "name": "Events"},
        ],
        "tools": [
            {
                **mailchimp,
                "slug": "mailchimp",
                "name": "Mailchimp",
                "base_url": f"{sandbox_url}/mailchimp/3.0",
            },
            {
                **mailchimp,
                "slug": "mailchimp-eu",
                "name": "Mailchimp EU",
                "base_url": f"http://127.0.0.1:{closed_port}/mailchimp/3.0",
            },
        ],
        "grants": [
            {**grant, "department": "growth", "tool": "mailchimp"},
            {**grant, "department": "sales", "tool": "mailchimp"},
            {**grant, "department": "sales", "tool": "mailchimp-eu"},
        ],
        "clients": [
            {"name": "newsletter-app", "department": "growth", "scopes": ["proxy"]},
            {"name": "crm-sync", "department": "sales", "scopes": ["proxy"]},
            {"name": "events-app", "department": "events", "scopes": ["proxy"]},
        ],
    }


def stale_samples(folder: Path, environment: dict) -> None:
    """What a crashed earlier start would leave: an allowed call counted in a sample file."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from gateway.metrics import observe_exchange;"
            "observe_exchange('mailchimp', 'growth', 'allow', 200, 0.1, None)",
        ],
        env={**environment, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
        check=True,
    )
    assert list(folder.glob("counter_*.db"))


def send_traffic(instance: Instance, apps: dict) -> None:
    """Every call of TRAFFIC, eight at a time, each on a new connection (so the kernel
    hands them to both workers)."""
    tokens = {name: get_token(instance.url, credentials) for name, credentials in apps.items()}
    calls = [
        (app, method, path, body)
        for app, method, path, body, times in TRAFFIC
        for _ in range(times)
    ]

    def call(app: str, method: str, path: str, body: dict | None) -> int:
        headers = {"Authorization": f"Bearer {tokens[app]}"} if app in tokens else {}
        return requests.request(
            method, instance.url + path, json=body, headers=headers, timeout=20
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda c: call(*c), calls))
    assert 200 in statuses and 403 in statuses and 401 in statuses, statuses


def logged_counts(app, tools: set[str]) -> tuple[Counter, Counter]:
    with app.app_context():
        rows = db.session.execute(
            select(
                ExchangeRecord.tool,
                ExchangeRecord.department,
                ExchangeRecord.decision,
                func.count(),
            ).group_by(ExchangeRecord.tool, ExchangeRecord.department, ExchangeRecord.decision)
        ).all()
        failures = db.session.execute(
            select(ExchangeRecord.error, func.count())
            .where(ExchangeRecord.error.like("upstream-%"))
            .group_by(ExchangeRecord.error)
        ).all()
    logged = Counter()
    for tool, department, decision, calls in rows:
        logged[(tool if tool in tools else "unknown", department or "none", decision)] += calls
    return logged, Counter(dict(failures))


@pytest.fixture(scope="module")
def deployment(database_url, migrated_engine, tmp_path_factory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("metrics")
    config = Config(
        database_url=database_url,
        secret_key="test-secret-key",
        encryption_keys=(ENCRYPTION_KEY,),
        subject_pepper="test-pepper",
        instance_path=folder / "instance",
        snapshot_max_age=0,
    )
    app = create_app(config)
    sandbox = serve(create_sandbox_app())
    instances: list[Instance] = []
    try:
        report = apply(app, catalog(sandbox.url, free_port()), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
        grant_consent(app, "marketing.communications.email", "ada@example.com", "alan@example.com")
        apps = {client.name: client for client in report.new_clients}
        environment = instance_environment(
            config,
            GATEHOUSE_SNAPSHOT_MAX_AGE="0",
            GATEHOUSE_UPSTREAM_RETRIES="0",
            MC_KEY=SANDBOX_MAILCHIMP_KEY,
        )
        operator_folder = folder / "operator-samples"
        operator_folder.mkdir()
        stale_samples(operator_folder, environment)
        a = start_instance(
            {**environment, "PROMETHEUS_MULTIPROC_DIR": str(operator_folder)}, folder / "a.log"
        )
        instances.append(a)
        b = start_instance(
            {**environment, "GATEHOUSE_METRICS_TOKEN": METRICS_TOKEN},
            folder / "b.log",
            METRICS_TOKEN,
        )
        instances.append(b)
        for instance in (a, b):
            send_traffic(instance, apps)
        for instance in (a, b):
            instance.scrapes = [instance.scrape().text for _ in range(SCRAPES)]
        logged, failures = logged_counts(app, {"mailchimp", "mailchimp-eu"})
        yield Deployment(
            a,
            b,
            operator_folder,
            logged,
            sorted(p.name for p in operator_folder.iterdir()),
            failures,
        )
    finally:
        for instance in instances:
            instance.stop()
        sandbox.stop()
        close(app)


def exchanges(scrape: str) -> Counter:
    """gatehouse_exchanges_total summed over status, by (tool, department, decision)."""
    counts = Counter()
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            if sample.name == "gatehouse_exchanges_total":
                labels = sample.labels
                counts[(labels["tool"], labels["department"], labels["decision"])] += int(
                    sample.value
                )
    return counts


def samples(scrape: str, name: str, label: str) -> Counter:
    counts = Counter()
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            if sample.name == name:
                counts[sample.labels[label]] += int(sample.value)
    return counts


def test_the_instances_metrics_add_up_to_the_exchange_log(deployment):
    calls_per_instance = sum(times for *_, times in TRAFFIC)
    assert sum(deployment.logged.values()) == 2 * calls_per_instance
    total = exchanges(deployment.a.scrapes[0]) + exchanges(deployment.b.scrapes[0])
    assert total == deployment.logged
    assert {department for _, department, _ in total} == {"growth", "sales", "events", "none"}
    assert {decision for *_, decision in total} == {"allow", "redact", "deny"}
    assert ("unknown", "growth", "deny") in total  # a made-up tool adds no label value


def test_every_scrape_counts_every_worker(deployment):
    for instance in (deployment.a, deployment.b):
        per_scrape = [sum(exchanges(scrape).values()) for scrape in instance.scrapes]
        assert per_scrape == [sum(t for *_, t in TRAFFIC)] * SCRAPES
    # Instance A's samples: those of its two workers; the stale file is gone.
    workers = {name.split("_")[-1] for name in deployment.sample_files if "counter" in name}
    assert len(workers) == 2, deployment.sample_files


def test_vendor_errors_and_consent_are_counted_by_kind(deployment):
    scrapes = deployment.a.scrapes[0] + deployment.b.scrapes[0]
    errors = samples(scrapes, "gatehouse_vendor_errors_total", "kind")
    assert errors == Counter({"connection": deployment.vendor_failures["upstream-unreachable"]})
    assert errors["connection"] == 2 * 2
    blocked = samples(scrapes, "gatehouse_consent_blocked_people_total", "outcome")
    assert blocked == Counter({"refused": 2 * 2, "dropped": 2 * 2})  # eve, alone or in a batch
    reasons = samples(scrapes, "gatehouse_decision_reasons_total", "department")
    assert set(reasons) == {"growth", "sales", "events", "none"}
    written = samples(scrapes, "gatehouse_audit_entries_written_total", "kind")
    forwarded = 2 * (3 + 3 + 3 + 2 + 2)  # allowed, redacted, and those the vendor failed
    assert written == Counter(
        {"record": forwarded, "completion": forwarded, "refusal": 2 * (2 + 2 + 2 + 2)}
    )


def test_a_metrics_token_is_required_when_set(deployment):
    b = deployment.b
    for token in ("", "wrong-token-of-the-same-size"):
        refused = b.scrape(token)
        assert refused.status_code == 401
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
        assert refused.json()["type"].endswith("/metrics-unauthorized")
    assert b.scrape().status_code == 200
    assert deployment.a.scrape("").status_code == 200  # no token configured there


def test_instances_on_one_host_keep_their_own_folders(deployment):
    sockets = [instance.control_socket() for instance in (deployment.a, deployment.b)]
    assert sockets[0] != sockets[1]
    assert all(socket.is_socket() for socket in sockets)
    runtime = sockets[1].parent
    assert runtime.stat().st_mode & 0o777 == 0o700
    assert sorted(path.name for path in runtime.iterdir()) == ["gunicorn.ctl", "metrics"]
    deployment.b.stop()
    assert not runtime.exists()  # removed on exit
    assert deployment.a.scrape().status_code == 200  # the other one goes on
    assert deployment.a.control_socket().is_socket()

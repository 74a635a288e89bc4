"""How long a change made through one instance takes to be obeyed by another, with the
database's change announcements (LISTEN/NOTIFY) and with the version poll alone.

Starts a sandbox Mailchimp on loopback and, for each way, two `gatehouse serve` instances
(2 workers each) on the empty PostgreSQL database given (migrated, then given the bench's
catalog). Then, N times, suspends or reinstates the tool through instance A's API and
calls instance B every few milliseconds, each call on a new connection, until it refuses
(or lets through) the tool's traffic; the time from A's answer to B's first changed one
is the propagation. B serves steady traffic meanwhile (a call every 20 ms), so that its
workers' polls run as on a busy instance. With announcements the poll is set to 30 s, so
that only they can explain what is seen sooner; without, the poll runs every
GATEHOUSE_SNAPSHOT_MAX_AGE (1 s), as it always does on SQLite. Prints p50, p95 and max for each.

    .venv/bin/python bench/change_propagation.py --database-url postgresql+psycopg://... \
        [--changes 50]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from catalog.declarative import apply_document
from connectors.sandbox import create_sandbox_app
from connectors.sandbox.vendors.mailchimp import CREDENTIALS as MAILCHIMP
from gateway.app import create_app
from gateway.config import Config
from gateway.db import db, make_engine
from gateway.identity.actors import Actor
from gateway.migrate import upgrade
from gateway.oauth.apps import register_app
from gateway.vault import vault_of

GATEHOUSE = str(Path(sys.executable).with_name("gatehouse"))
PING = "/proxy/mailchimp/ping"
SECRETS = {
    "GATEHOUSE_SECRET_KEY": "bench-secret-key",
    "GATEHOUSE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "GATEHOUSE_SUBJECT_PEPPER": "bench-pepper",
}
#: Each way: what differs in the instances' environment.
WAYS = {
    "LISTEN/NOTIFY (poll 30 s)": {"GATEHOUSE_SNAPSHOT_POLL": "30"},
    "poll only (every 1 s)": {"GATEHOUSE_CHANGE_NOTIFICATIONS": "false"},
}


def catalog(sandbox_url: str) -> dict:
    return {
        "departments": [{"slug": "growth", "name": "Growth"}],
        "tools": [
            {
                "slug": "mailchimp",
                "name": "Mailchimp",
                "connector": "mailchimp",
                "base_url": f"{sandbox_url}/mailchimp/3.0",
                "allow_private_network": True,
                "status": "approved",
                "country": "US",
                "transfer_basis": "dpf",
                "credentials": {"api_key": "from-env:MC_KEY"},
            }
        ],
        "grants": [
            {
                "department": "growth",
                "tool": "mailchimp",
                "purposes": ["essential.service.operations"],
                "data_categories": ["user.contact.email"],
            }
        ],
    }


def prepare(database_url: str, sandbox_url: str) -> dict[str, tuple[str, str]]:
    """The catalog, the tool approved; an app calling it and a reviewing app's credentials."""
    upgrade(make_engine(database_url))
    app = create_app(
        Config(
            database_url=database_url,
            secret_key=SECRETS["GATEHOUSE_SECRET_KEY"],
            encryption_keys=(SECRETS["GATEHOUSE_ENCRYPTION_KEYS"],),
            subject_pepper=SECRETS["GATEHOUSE_SUBJECT_PEPPER"],
            instance_path=Path(tempfile.mkdtemp(prefix="gatehouse-bench-")),
        )
    )
    operator = Actor.for_operator("bench")
    credentials = {}
    with app.app_context():
        vendor_key = {"MC_KEY": MAILCHIMP["api_key"]}
        apply_document(db.session, catalog(sandbox_url), vault_of(app), vendor_key)
        for role, scopes in (("caller", ["proxy"]), ("reviewer", ["reviews:write"])):
            name = f"bench-{role}-{os.getpid()}"
            client, secret = register_app(
                db.session, operator, "bench", name, "growth", scopes=scopes
            )
            credentials[role] = (client.client_id, secret)
        db.session.commit()
    db.of(app).engine.dispose()
    return credentials


@contextmanager
def sandbox() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_sandbox_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def instances(database_url: str, extra: dict, count: int = 2) -> Iterator[list[str]]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")},
        **SECRETS,
        **extra,
        "GATEHOUSE_DATABASE_URL": database_url,
        "GATEHOUSE_INSTANCE_PATH": tempfile.mkdtemp(prefix="gatehouse-bench-"),
        "GATEHOUSE_LOG_LEVEL": "WARNING",
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    processes, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [GATEHOUSE, "serve", "--port", str(port), "--workers", "2"],
                    env=environment,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_until_serving(url)
        time.sleep(2)  # every worker booted and, with announcements, listening
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not start")


def token(url: str, credentials: tuple[str, str]) -> str:
    answer = requests.post(
        f"{url}/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


@contextmanager
def steady_traffic(url: str, headers: dict) -> Iterator[None]:
    """Calls all along, as a serving instance has: without them, the first call after a
    pause would find its worker due for a poll and make the poll look faster than it is."""
    stopping = threading.Event()

    def call() -> None:
        while not stopping.wait(0.02):
            requests.get(url + PING, headers=headers, timeout=20)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        thread.join()


def propagation(a: str, b: str, credentials: dict, changes: int) -> list[float]:
    """Seconds from A's answer to a status change to B's first answer obeying it."""
    caller = {"Authorization": f"Bearer {token(b, credentials['caller'])}"}
    reviewer = {"Authorization": f"Bearer {token(a, credentials['reviewer'])}"}
    with steady_traffic(b, caller):
        return [change(a, b, caller, reviewer, n) for n in range(changes)]


def change(a: str, b: str, caller: dict, reviewer: dict, n: int) -> float:
    """Suspends (even n) or reinstates the tool through A; seconds until B obeys."""
    status, expected = ("suspended", 403) if n % 2 == 0 else ("approved", 200)
    body = {"status": status, "reason": "bench"}
    changed = requests.post(
        f"{a}/api/v1/tools/mailchimp/status", json=body, headers=reviewer, timeout=20
    )
    changed.raise_for_status()
    changed_at = time.monotonic()
    while requests.get(b + PING, headers=caller, timeout=20).status_code != expected:
        time.sleep(0.005)
    seconds = time.monotonic() - changed_at
    time.sleep(random.uniform(0.1, 0.6))  # out of step with any poll
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL"),
        help="PostgreSQL (default: GATEHOUSE_BENCH_DATABASE_URL)",
    )
    parser.add_argument("--changes", type=int, default=50)
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's every request
    if not (options.database_url or "").startswith("postgresql"):
        parser.error("give a PostgreSQL --database-url (or GATEHOUSE_BENCH_DATABASE_URL)")
    with sandbox() as sandbox_url:
        credentials = prepare(options.database_url, sandbox_url)
        print(f"{options.changes} changes each (suspend/reinstate through A, seen by B), ms:")
        print(f"{'':28}{'p50':>8}{'p95':>8}{'max':>8}")
        for way, extra in WAYS.items():
            with instances(options.database_url, extra) as (a, b):
                seconds = sorted(propagation(a, b, credentials, options.changes))
            p95 = statistics.quantiles(seconds, n=20)[-1]
            figures = (statistics.median(seconds), p95, seconds[-1])
            print(f"{way:28}" + "".join(f"{value * 1000:8.0f}" for value in figures))


if __name__ == "__main__":
    main()

"""What an app's API key costs on the hot path, next to a JWT access token, in one run.

Builds a gateway on a fresh SQLite database (or the one given) with the demo's Mailchimp
tool at a sandbox served on loopback, registers an app, mints it a JWT and an API key,
then times (1) identifying the caller alone, N times for each credential, and (2) whole
governed calls (GET /proxy/mailchimp/ping through the WSGI app, the sandbox answering)
alternating key and token, and prints medians and 95th percentiles.

    .venv/bin/python bench/api_key_auth.py [--identify 20000] [--calls 500] [--database-url URL]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask
from werkzeug.serving import make_server

from catalog.declarative import apply_document
from connectors.sandbox import create_sandbox_app
from connectors.sandbox.vendors.mailchimp import CREDENTIALS as MAILCHIMP
from gateway.app import create_app
from gateway.config import Config
from gateway.db import db, make_engine
from gateway.identity.actors import Actor
from gateway.migrate import upgrade
from gateway.oauth.api_keys import create_key
from gateway.oauth.apps import register_app
from gateway.oauth.server import oauth_of
from gateway.proxy.caller import identify_caller
from gateway.snapshots import snapshots_of
from gateway.vault import vault_of

OPERATOR = Actor.for_operator("bench")


def build_gateway(database_url: str, sandbox_url: str) -> tuple[Flask, str, str]:
    """The gateway, and an app's access token and API key."""
    upgrade(make_engine(database_url))
    instance = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    app = create_app(
        Config(
            database_url=database_url,
            secret_key="bench-secret-key",
            encryption_keys=(Fernet.generate_key().decode(),),
            subject_pepper="bench-pepper",
            instance_path=instance,
            log_level="WARNING",
        )
    )
    with app.app_context():
        apply_document(db.session, _catalog(sandbox_url), vault_of(app), {"MC_KEY": "x"})
        client, secret = register_app(db.session, OPERATOR, "bench", "bench-app", "growth")
        key = create_key(db.session, OPERATOR, "bench", client).plaintext
        db.session.commit()
        client_id = client.client_id
    token = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    return app, token.json["access_token"], key


def _catalog(sandbox_url: str) -> dict:
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
                "country": "IE",
                "credentials": dict(MAILCHIMP),
            }
        ],
        "grants": [
            {
                "department": "growth",
                "tool": "mailchimp",
                "purposes": ["essential.service.operations"],
                "data_categories": [],
            }
        ],
    }


def time_identification(app: Flask, credential: str, times: int) -> list[float]:
    snapshots = snapshots_of(app)
    verifier = oauth_of(app).verifier
    headers = {"Authorization": f"Bearer {credential}"}
    elapsed = []
    with app.test_request_context("/proxy/mailchimp/ping", headers=headers) as context:
        for _ in range(times):
            started = time.perf_counter()
            identify_caller(
                context.request,
                verifier,
                snapshots.get("clients"),
                api_keys=snapshots.get("api_keys"),
            )
            elapsed.append(time.perf_counter() - started)
    return elapsed


def time_calls(app: Flask, token: str, key: str, calls: int) -> tuple[list[float], list[float]]:
    client = app.test_client()
    by_token, by_key = [], []
    for _ in range(calls):
        for credential, sink in ((token, by_token), (key, by_key)):
            started = time.perf_counter()
            answer = client.get(
                "/proxy/mailchimp/ping", headers={"Authorization": f"Bearer {credential}"}
            )
            sink.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.get_data(as_text=True)
    return by_token, by_key


def summary(label: str, values: list[float], unit: float, unit_name: str) -> str:
    p50 = statistics.median(values) * unit
    p95 = sorted(values)[int(0.95 * (len(values) - 1))] * unit
    return f"{label:<22} p50 {p50:8.2f} {unit_name}   p95 {p95:8.2f} {unit_name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identify", type=int, default=20000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--database-url", help="a database to migrate and use (default: SQLite)")
    args = parser.parse_args()
    database_url = args.database_url or (
        f"sqlite:///{tempfile.mkdtemp(prefix='gatehouse-bench-')}/bench.db"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's request lines
    sandbox = make_server("127.0.0.1", 0, create_sandbox_app(), threaded=True)
    threading.Thread(target=sandbox.serve_forever, daemon=True).start()
    try:
        app, token, key = build_gateway(database_url, f"http://127.0.0.1:{sandbox.server_port}")
        time_identification(app, token, 200)  # warm both paths
        time_identification(app, key, 200)
        print(f"identifying the caller, {args.identify} times each")
        for label, credential in (("  JWT access token", token), ("  API key", key)):
            print(summary(label, time_identification(app, credential, args.identify), 1e6, "µs"))
        by_token, by_key = time_calls(app, token, key, args.calls)
        print(f"whole governed calls (WSGI, sandbox on loopback), {args.calls} each, alternating")
        print(summary("  JWT access token", by_token, 1e3, "ms"))
        print(summary("  API key", by_key, 1e3, "ms"))
    finally:
        sandbox.shutdown()


if __name__ == "__main__":
    main()

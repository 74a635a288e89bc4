"""``make run``: the demo catalog, a sandbox vendor beside the gateway, credentials on screen.

Both ports are checked before anything is seeded or printed, so no credentials are shown
for a server that then cannot start.
"""

from __future__ import annotations

import atexit
import errno
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import click
import yaml
from flask import current_app
from sqlalchemy import select

from catalog.declarative import apply_document
from connectors.sandbox import sandbox_environment
from gateway.config import config_of
from gateway.db import db, utcnow
from gateway.demo_requests import seed_tool_requests
from gateway.demo_shadow_it import seed_shadow_it
from gateway.demo_users import DemoAccount, seed_demo_users, write_users_file
from gateway.migrate import upgrade
from gateway.oauth.clients import rotate_client_secret
from gateway.oauth.models import Client
from gateway.server import serve_with_gunicorn
from gateway.vault import vault_of
from policies.consent import ConsentState, ConsentStatus, NewConsent, record_consents
from policies.subjects import subject_key

CATALOG_PATH = Path(__file__).with_name("demo_catalog.yaml")
DEMO_CLIENT = "newsletter-app"
DEMO_AUDITOR = "dpo-office"


class PortBusy(click.ClickException):
    """A port the demo needs is taken; the message says which and how to choose others."""


def check_ports(port: int, sandbox_port: int) -> None:
    if port == sandbox_port:
        raise PortBusy(f"the gateway and the sandbox cannot share port {port}. {_CHOOSE_PORTS}")
    for number, what in ((port, "the gateway"), (sandbox_port, "the sandbox vendors")):
        if not port_is_free(number):
            raise PortBusy(
                f"port {number} ({what}) is busy: another program listens on it. {_CHOOSE_PORTS}"
            )


_CHOOSE_PORTS = (
    "Choose others: make run PORT=8081 SANDBOX_PORT=9101 "
    "(or gatehouse demo --port 8081 --sandbox-port 9101)"
)


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` (as gunicorn binds: a socket
    lingering from a previous run does not make it busy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def run_demo(instance_path: Path, port: int, sandbox_port: int) -> None:
    check_ports(port, sandbox_port)
    for name, value in sandbox_environment().items():
        os.environ.setdefault(name, value)
    upgrade(db.of(current_app).engine)
    portal_url = f"http://127.0.0.1:{port}/portal/"
    apps, accounts = _seed(f"http://127.0.0.1:{sandbox_port}")
    (client_id, secret), (auditor_id, auditor_secret) = apps
    users_file = write_users_file(instance_path, accounts, portal_url)
    env_file = instance_path / "demo-client.env"
    env_file.write_text(
        f"CLIENT_ID={client_id}\nCLIENT_SECRET={secret}\n"
        f"AUDITOR_CLIENT_ID={auditor_id}\nAUDITOR_CLIENT_SECRET={auditor_secret}\n"
    )
    env_file.chmod(0o600)
    sandbox = _start_sandbox(sandbox_port)
    click.echo(
        f"\nGatehouse demo on http://127.0.0.1:{port}\n"
        f"  sandbox vendors on http://127.0.0.1:{sandbox_port}"
        " (what they received: /_sandbox/requests)\n"
        f"  app {DEMO_CLIENT!r} of department 'growth':\n"
        f"    CLIENT_ID={client_id}\n    CLIENT_SECRET={secret}\n"
        f"  auditor {DEMO_AUDITOR!r} (scope audit:read, e.g. /api/v1/audit/exchanges):\n"
        f"    AUDITOR_CLIENT_ID={auditor_id}\n    AUDITOR_CLIENT_SECRET={auditor_secret}\n"
        f"  (also in {env_file}; try the curl example of README.md)\n"
        f"\nThe portal: {portal_url}\n"
        + "".join(
            f"  {account.role.value:<12} {account.email:<30} password {account.password}\n"
            for account in accounts
        )
        + f"  (new passwords on every run; also in {users_file})\n"
    )
    serve_with_gunicorn("127.0.0.1", port, workers=1, threads=8, companions=[sandbox.pid])


def _seed(sandbox_url: str) -> tuple[list[tuple[str, str]], list[DemoAccount]]:
    """Apply the demo catalog; the demo app and auditor get fresh secrets to print, the
    demo people fresh passwords."""
    document = yaml.safe_load(CATALOG_PATH.read_text())
    for tool in document["tools"]:
        tool["base_url"] = tool["base_url"].format(sandbox=sandbox_url)
    report = apply_document(db.session, document, vault_of(current_app))
    for change in report.changes:
        click.echo(f"demo: {change}")
    _seed_consents(config_of(current_app).pepper)
    credentials = [_fresh_credentials(name) for name in (DEMO_CLIENT, DEMO_AUDITOR)]
    accounts = seed_demo_users(db.session)
    seed_tool_requests(db.session, sandbox_url)
    seed_shadow_it(db.session)
    db.session.commit()
    return credentials, accounts


def _fresh_credentials(name: str) -> tuple[str, str]:
    client = db.session.scalar(select(Client).where(Client.name == name))
    return client.client_id, rotate_client_secret(client)


def _seed_consents(pepper: bytes) -> None:
    """Ada consented to e-mail marketing; Bob consented, then withdrew. Recorded once."""
    people = {"ada@example.com": ["granted"], "bob@example.com": ["granted", "withdrawn"]}
    keys = {email: subject_key(pepper, "email", email) for email in people}
    if db.session.scalars(
        select(ConsentState).where(ConsentState.subject_key.in_(keys.values()))
    ).first():
        return
    start = utcnow() - timedelta(days=30)
    record_consents(
        db.session,
        [
            NewConsent(
                subject_key=keys[email],
                purpose="marketing.communications.email",
                status=ConsentStatus(status),
                source="demo-signup-form",
                occurred_at=start + timedelta(days=step),
                evidence={"ref": "demo"},
            )
            for email, statuses in people.items()
            for step, status in enumerate(statuses)
        ],
    )
    click.echo("demo: consent of ada@example.com (granted) and bob@example.com (withdrawn)")


def _start_sandbox(port: int) -> subprocess.Popen:
    sandbox = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "connectors.sandbox", "--port", str(port)],
        env=os.environ.copy(),
    )
    atexit.register(sandbox.terminate)  # should the demo fail before it serves
    return sandbox

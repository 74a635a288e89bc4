"""``make run`` (``gatehouse demo``): its ports are checked before anything is printed,
and it seeds one account of every role with passwords printed once and kept 0600."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from catalog.history import ChangeEvent
from catalog.models import Department, Outcome, Tool, ToolRequest
from catalog.shadow_it.models import Finding, UnknownName
from gateway.db import db
from gateway.demo import port_is_free
from gateway.demo_requests import seed_tool_requests
from gateway.demo_shadow_it import seed_shadow_it
from gateway.demo_users import USERS_FILE, seed_demo_users, write_users_file
from gateway.identity.accounts import authenticate
from gateway.identity.models import User
from tests.conftest import GATEHOUSE, apply, demo_document
from tests.ports import free_port

ROLES = ["marketer", "it_reviewer", "admin", "auditor"]
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def listening() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_port_someone_listens_on_is_busy_and_a_closed_one_free(listening):
    assert port_is_free(listening) is False
    assert port_is_free(free_port()) is True


@pytest.mark.parametrize("busy", ["gateway", "sandbox"])
def test_a_busy_port_is_named_before_anything_is_printed(cli, cli_env, listening, busy):
    cli_env["GATEHOUSE_DEMO"] = "1"
    ports = {"gateway": free_port(), "sandbox": free_port(), busy: listening}

    result = cli("demo", "--port", str(ports["gateway"]), "--sandbox-port", str(ports["sandbox"]))

    assert result.returncode == 1
    assert result.stdout == ""
    what = {"gateway": "the gateway", "sandbox": "the sandbox vendors"}[busy]
    assert f"port {listening} ({what}) is busy" in result.stderr
    assert "make run PORT=8081 SANDBOX_PORT=9101" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (Path(cli_env["GATEHOUSE_INSTANCE_PATH"]) / USERS_FILE).exists()


def seed(app):
    with app.app_context():
        accounts = seed_demo_users(db.session)
        db.session.commit()
        return accounts


def test_seeding_twice_keeps_one_account_per_role_with_a_new_password(app):
    with app.app_context():
        db.session.add(Department(slug="growth", name="Growth marketing"))
        db.session.commit()

    first, second = seed(app), seed(app)

    assert [account.role.value for account in second] == ROLES
    assert [a.email for a in first] == [a.email for a in second]
    with app.app_context():
        users = {user.email: user for user in db.session.scalars(select(User))}
        assert len(users) == 4
        marketer = users[second[0].email]
        assert marketer.department_slugs == ["growth"]
        assert marketer.session_epoch == 1, "sessions with the old password ended"
        for old, new in zip(first, second, strict=True):
            assert old.password != new.password
            assert authenticate(db.session, new.email, new.password) is not None
            assert authenticate(db.session, old.email, old.password) is None
        history = list(db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)))
    assert [event.action for event in history] == ["created"] * 4 + ["password_changed"] * 4
    recorded = json.dumps([[event.before, event.after] for event in history])
    assert not any(account.password in recorded for account in first + second)


def test_the_users_file_is_for_its_owner_only(app, tmp_path):
    with app.app_context():
        db.session.add(Department(slug="growth", name="Growth marketing"))
        db.session.commit()
    accounts = seed(app)
    path = write_users_file(tmp_path, accounts, "http://127.0.0.1:8080/portal/")
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert "http://127.0.0.1:8080/portal/" in text
    for account in accounts:
        assert f"{account.role.value}\t{account.email}\t{account.password}" in text


def test_the_demo_requests_are_in_every_state_and_filed_once(app, sandbox):
    with app.app_context():
        db.session.add(Department(slug="growth", name="Growth marketing"))
        db.session.commit()
    seed(app)
    for _ in range(2):
        with app.app_context():
            seed_tool_requests(db.session, sandbox)
            db.session.commit()
    with app.app_context():
        requests_filed = db.session.scalars(select(ToolRequest).order_by(ToolRequest.id)).all()
        states = {r.vendor_name: (r.status.value, r.outcome) for r in requests_filed}
        sendgrid = db.session.scalar(select(Tool).where(Tool.slug == "sendgrid"))
        assert (sendgrid.status.value, sendgrid.allow_private_network) == ("approved", True)
    assert states == {
        "Brevo": ("submitted", None),
        "Hotjar": ("needs_info", None),
        "SendGrid": ("approved", Outcome.APPROVE_WITH_CONDITIONS),
        "LeadListr": ("rejected", Outcome.REJECT),
    }


@pytest.fixture
def demo_process(tmp_path) -> Iterator[tuple[int, object]]:
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(GATEHOUSE_DEMO="1", GATEHOUSE_INSTANCE_PATH=str(tmp_path / "instance"))
    output = (tmp_path / "demo.out").open("w+")
    process = subprocess.Popen(
        [GATEHOUSE, "demo", "--port", str(port), "--sandbox-port", str(sandbox_port)],
        cwd=tmp_path,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not _serving(f"http://127.0.0.1:{port}/readyz"):
            assert process.poll() is None, (tmp_path / "demo.out").read_text()
            assert time.monotonic() < deadline, "gatehouse demo did not start serving"
            time.sleep(0.2)
        yield port, tmp_path
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        output.close()
        # The sandbox vendors stop with the demo (the master terminates them as it exits).
        sandbox = f"http://127.0.0.1:{sandbox_port}/_sandbox/requests"
        deadline = time.monotonic() + 10
        while _serving(sandbox) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _serving(sandbox), "the sandbox vendors outlived the demo"


def _serving(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to start
        return False


def test_the_demo_prints_accounts_that_sign_in(demo_process):
    port, workdir = demo_process
    printed = (workdir / "demo.out").read_text()
    assert f"The portal: http://127.0.0.1:{port}/portal/" in printed
    found = re.search(r"marketer\s+(\S+)\s+password (\S+)", printed)
    assert found, printed
    email, password = found.groups()
    assert f"marketer\t{email}\t{password}" in (workdir / "instance" / USERS_FILE).read_text()

    browser = requests.Session()
    form = browser.get(f"http://127.0.0.1:{port}/portal/sign-in", timeout=10).text
    answer = browser.post(
        f"http://127.0.0.1:{port}/portal/sign-in",
        data={"email": email, "password": password, "csrf_token": CSRF_META.search(form)[1]},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.url == f"http://127.0.0.1:{port}/portal/"
    assert f"Welcome, {email}" in answer.text
    mine = browser.get(f"http://127.0.0.1:{port}/portal/requests", timeout=10).text
    for vendor in ("Brevo", "Hotjar", "SendGrid", "LeadListr"):
        assert vendor in mine


def test_the_demo_egress_log_gives_findings_of_every_kind_once(app, sandbox):
    apply(app, demo_document(sandbox), {"MC_KEY": "demo"})
    seed(app)
    with app.app_context():
        seed_tool_requests(db.session, sandbox)
        for _ in range(2):  # make run seeds on every start
            seed_shadow_it(db.session)
            db.session.commit()
        findings = {
            (f.vendor_slug, f.department): (f.state.value, f.requests)
            for f in db.session.scalars(select(Finding))
        }
        unknown = [(u.name, u.hits) for u in db.session.scalars(select(UnknownName))]
    assert findings == {
        ("mailchimp", "growth"): ("bypassing", 6),  # the gateway's own 4 calls are not
        ("hotjar", "growth"): ("requested", 6),
        ("typeform", "growth"): ("not_in_catalog", 3),
        ("calendly", "compliance"): ("not_in_catalog", 2),
        ("zoominfo", "compliance"): ("not_in_catalog", 2),
    }
    assert unknown == [("leadlistr.io", 12)]

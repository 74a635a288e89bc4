"""No token, client secret or vendor credential reaches the log of a real `gatehouse serve`,
even where apps send them in the query string (GA4, Meta) and at debug level."""

from __future__ import annotations

import subprocess

import pytest
import requests

from connectors.sandbox.vendors import ga4 as ga4_sandbox
from gateway.log_redaction import Redactor
from tests.conftest import GATEHOUSE, apply, get_token
from tests.ports import free_port
from tests.test_connector_operations import catalog, consent_to_samples, samples
from tests.test_readme import wait_until_serving

VENDOR_SECRET = ga4_sandbox.CREDENTIALS["api_secret"]


@pytest.fixture
def ga4_app(app, sandbox):
    document = {"departments": [{"slug": "growth", "name": "Growth"}], **catalog("ga4", sandbox)}
    client = apply(app, document).new_clients[0]
    consent_to_samples(app, "ga4")
    return client


def test_the_access_log_and_the_app_log_redact_credentials(ga4_app, cli_env, tmp_path):
    port, log_path = free_port(), tmp_path / "serve.log"
    gateway = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [GATEHOUSE, "serve", "--port", str(port), "--workers", "1"],
            env={**cli_env, "GATEHOUSE_LOG_LEVEL": "DEBUG"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(f"{gateway}/healthz", server)
        token = get_token(gateway, ga4_app)
        sample = samples("ga4")["operations"]["collect"]
        forwarded = requests.post(
            f"{gateway}/proxy/ga4/{sample['path']}",
            params={"api_secret": token, "measurement_id": "G-SANDBOX01"},
            json=sample["body"],
            timeout=10,
        )
        assert forwarded.status_code == 204, forwarded.text
        requests.get(  # no such tool: refused, and logged like any other call
            f"{gateway}/proxy/meta/v21.0/1/events",
            params={"access_token": token},
            headers={"Referer": f"https://shop.example/?api_key={token}"},
            timeout=10,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    logged = log_path.read_text()
    assert "POST /proxy/ga4/mp/collect?api_secret=[REDACTED]&measurement_id=G-SANDBOX01" in logged
    assert "GET /proxy/meta/v21.0/1/events?access_token=[REDACTED]" in logged
    assert "?api_key=[REDACTED]" in logged
    for secret in (token, ga4_app.client_secret, VENDOR_SECRET):
        assert secret not in logged


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("GET /p?measurement_id=G-1&api%5Fsecret=s3 HTTP/1.1", "measurement_id=G-1&api%5Fsecret="),
        ("api_secret=s3&x=1", "api_secret=[REDACTED]&x=1"),
        ("POST /p?q=1;token=s3", "q=1;token=[REDACTED]"),
        ("headers: {'Authorization': 'Basic s3'}", "'Authorization': 'Basic [REDACTED]'"),
        ("Issue token {'access_token': 'eyJh.eyJz.s3'}", "{'access_token': '[REDACTED]'}"),
        ("{'Api-Key': 's3', 'Accept': 'x'}", "{'Api-Key': '[REDACTED]', 'Accept': 'x'}"),
        ("Cookie: session=s3", "Cookie: [REDACTED]"),
    ],
)
def test_credentials_are_found_however_written(line, shown):
    redacted = Redactor({"api_secret", "token", "access_token"}, {"api-key", "cookie"}).text(line)
    assert shown in redacted and "s3" not in redacted


@pytest.mark.parametrize(
    ("line", "shown", "hidden"),
    [
        ("GET /proxy/brevo/contacts/ada@example.com HTTP/1.1", "/contacts/[EMAIL] ", "ada@"),
        ("GET /p?email=ada%40example.com&x=1 HTTP/1.1", "?email=[EMAIL]&x=1", "ada%40"),
        ("DELETE /proxy/x/contacts/+14155550100 HTTP/1.1", "/contacts/[PHONE] ", "4155550100"),
        ("GET /p?phone=%2B14155550100", "?phone=[PHONE]", "4155550100"),
        ("at 2026-12-03T08:14:03+00:00 in 12 ms", "2026-12-03T08:14:03+00:00", "[PHONE]"),
    ],
)
def test_people_are_not_named_in_the_log(line, shown, hidden):
    redacted = Redactor(set(), set()).text(line)
    assert shown in redacted and hidden not in redacted

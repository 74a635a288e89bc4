"""No secret the gateway handles ever shows up where people read: a full round of use, searched.

A real ``gatehouse serve`` process (gunicorn, its access log and the app's log at DEBUG)
serves every shipped connector's sample calls, with the app's token wherever each
vendor's SDK puts its key — the query string included, as the GA4 and Meta docs tell
apps to — plus refusals, malformed calls, the OAuth endpoints and the auditor's API; the
CLI then searches, exports and exports the catalog. Every log line, every response and
every exported file is searched for every secret used along the way.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from connectors.registry import load_spec
from connectors.sandbox import vendor_modules
from tests.conftest import GATEHOUSE, apply, get_token
from tests.ports import free_port
from tests.test_connector_operations import VENDORS, call, catalog, consent_to_samples, samples
from tests.test_readme import wait_until_serving

#: Identifiers of people the samples name: never raw in a log line or an export.
PEOPLE = ("ada@example.com", "bob@example.com")


@pytest.fixture
def served(cli_env, tmp_path):
    """A real gateway process whose every output line is kept."""
    port = free_port()
    output = tmp_path / "server.log"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [GATEHOUSE, "serve", "--port", str(port), "--workers", "1", "--threads", "4"],
            # Catalog changes made by the test reach the server on its next request.
            env={**cli_env, "GATEHOUSE_LOG_LEVEL": "DEBUG", "GATEHOUSE_SNAPSHOT_MAX_AGE": "0"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
            yield f"http://127.0.0.1:{port}", output
        finally:
            process.terminate()
            process.wait(timeout=20)


class Round:
    """What one round of use produced (responses, files, outputs) and the secrets it used."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.seen: list[tuple[str, str]] = []

    def secret(self, value: str) -> str:
        self.secrets.add(value)
        return value

    def response(self, label: str, response: requests.Response) -> requests.Response:
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.seen.append((label, f"{response.status_code}\n{headers}\n{response.text}"))
        return response

    def leaks(self, extra: list[tuple[str, str]]) -> list[str]:
        return [
            f"{label}: {secret[:12]}..."
            for label, text in [*self.seen, *extra]
            for secret in self.secrets
            if secret in text
        ]


def test_no_secret_reaches_a_log_a_response_or_an_export(
    app, sandbox, served, cli, cli_env, tmp_path
):
    gateway, server_log = served
    used = Round()
    for name in ("GATEHOUSE_SECRET_KEY", "GATEHOUSE_SUBJECT_PEPPER", "GATEHOUSE_ENCRYPTION_KEYS"):
        used.secret(cli_env[name])
    tokens = {vendor: _use_vendor(app, gateway, sandbox, vendor, used) for vendor in VENDORS}
    _misuse(gateway, tokens["mailchimp"], used)
    _audit_round(app, gateway, used, cli, tmp_path)

    outputs = [(f"server log line {n}", line) for n, line in enumerate(_lines(server_log), 1)]
    outputs += [(f"file {path.name}", path.read_text()) for path in tmp_path.glob("out-*")]
    leaks = used.leaks(outputs)
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks[:20])
    raw_people = [label for label, text in outputs for person in PEOPLE if person in text.lower()]
    assert raw_people == [], f"raw identifiers in logs or exports: {raw_people[:10]}"
    assert len(outputs) > 50, "the round produced too little to search"


def _use_vendor(app, gateway, sandbox, vendor: str, used: Round) -> str:
    """Every sample call of the vendor, its invalid and undeclared call; the app's token."""
    document = catalog(vendor, sandbox)
    for value in document["tools"][0]["credentials"].values():
        used.secret(value)
    client = apply(app, document).new_clients[0]
    used.secret(client.client_secret)
    consent_to_samples(app, vendor)
    token = used.secret(get_token(gateway, client))
    spec, examples = load_spec(vendor), samples(vendor)
    methods = {operation.id: operation.method for operation in spec.operations}
    for operation_id, sample in examples["operations"].items():
        response = call(gateway, vendor, token, sample, methods[operation_id])
        used.response(f"{vendor} {operation_id}", response)
        assert response.status_code < 500, (vendor, operation_id, response.text)
    for kind in ("invalid", "undeclared"):
        refused = call(gateway, vendor, token, examples[kind], examples[kind]["method"])
        used.response(f"{vendor} {kind}", refused)
        assert refused.status_code in (403, 422), refused.text
    return token


def _misuse(gateway: str, token: str, used: Round) -> None:
    """Refusals and errors that carry credentials: wrong secrets, forged and revoked tokens."""
    forged = used.secret(token[:-8] + "AAAAAAAA")
    stranger = used.secret("not-a-real-client-secret-" + "x" * 20)
    checks = [
        ("forged token", "GET", "/proxy/mailchimp/ping", {"Authorization": f"Bearer {forged}"}),
        ("forged in query", "POST", f"/proxy/ga4/mp/collect?api_secret={forged}", {}),
        ("forged meta", "POST", f"/proxy/meta/v19.0/1/events?access_token={forged}", {}),
        ("unknown tool", "GET", "/proxy/nowhere/x", {"Authorization": f"Bearer {token}"}),
    ]
    for label, method, path, headers in checks:
        response = used.response(
            label, requests.request(method, gateway + path, headers=headers, timeout=10)
        )
        assert response.status_code in (401, 404), (label, response.text)
    wrong = requests.post(
        f"{gateway}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": stranger},
        timeout=10,
    )
    assert used.response("wrong client secret", wrong).status_code in (400, 401)
    for endpoint in ("introspect", "revoke"):
        response = requests.post(
            f"{gateway}/oauth/{endpoint}",
            data={"token": forged, "client_id": "nobody", "client_secret": stranger},
            timeout=10,
        )
        assert used.response(endpoint, response).status_code < 500


def _audit_round(app, gateway: str, used: Round, cli, tmp_path: Path) -> None:
    """The auditor's API, then the CLI's search, exports and the catalog export."""
    document = {
        "clients": [{"name": "dpo-office", "department": "growth", "scopes": ["audit:read"]}]
    }
    auditor = apply(app, document).new_clients[0]
    used.secret(auditor.client_secret)
    token = used.secret(get_token(gateway, auditor))
    bearer = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/audit/exchanges", "/api/v1/audit/people?email=ada@example.com"):
        response = used.response(path, requests.get(gateway + path, headers=bearer, timeout=10))
        assert response.status_code == 200, response.text
    for name, args in {
        "out-search.json": ("audit", "search", "--json"),
        "out-person.txt": ("audit", "person", "--email", "ada@example.com"),
        "out-catalog.yaml": ("export",),
    }.items():
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        (tmp_path / name).write_text(result.stdout + result.stderr)
    for file_format in ("jsonl", "csv"):
        target = tmp_path / f"out-export.{file_format}"
        result = cli("audit", "export", "--format", file_format, "-o", str(target))
        assert result.returncode == 0, result.stderr
        manifest = target.with_name(target.name + ".manifest.json")
        manifest.rename(tmp_path / f"out-manifest-{file_format}.json")
    assert (tmp_path / "out-search.json").read_text().count("request_id") > 20


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


def test_the_sandboxes_hold_every_vendor_credential_the_round_uses():
    """The round above searches for these; a vendor without one would test nothing."""
    assert all(vendor_modules()[vendor].CREDENTIALS for vendor in VENDORS)

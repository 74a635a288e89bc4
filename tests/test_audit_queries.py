"""What auditors ask of the log, over the API with an auditor's token and with the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from gateway.audit.manifest import ExportManifest
from gateway.audit.models import ExchangeRecord
from gateway.db import db
from tests.conftest import apply, demo_document, get_token, grant_consent
from tests.test_audit import logged  # noqa: F401  (the fixture)
from tests.test_governance import MEMBERS, key, member, post
from tests.test_proxy import assert_problem

EMAIL = "marketing.communications.email"


@pytest.fixture
def auditor(logged, gateway) -> str:  # noqa: F811
    """A token of the auditor's role (scope audit:read) over the six logged exchanges."""
    report = apply(
        logged,
        {"clients": [{"name": "dpo-office", "department": "growth", "scopes": ["audit:read"]}]},
    )
    return get_token(gateway, report.new_clients[0])


def ask(gateway: str, token: str, path: str, **params) -> requests.Response:
    return requests.get(
        f"{gateway}/api/v1/audit/{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def seqs(response: requests.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["seq"] for item in response.json()["items"]]


def test_search_by_each_filter(gateway, auditor):
    assert seqs(ask(gateway, auditor, "exchanges")) == [1, 2, 3, 4, 5, 6]
    assert seqs(ask(gateway, auditor, "exchanges", decision="deny")) == [2]
    assert seqs(ask(gateway, auditor, "exchanges", rule="consent")) == [2]
    assert seqs(ask(gateway, auditor, "exchanges", email=" Ada@Example.com ")) == [1]
    assert seqs(ask(gateway, auditor, "exchanges", category="user.contact")) == [1, 2, 3]
    assert seqs(ask(gateway, auditor, "exchanges", purpose="marketing")) == [1, 2, 3]
    assert seqs(ask(gateway, auditor, "exchanges", tool="mailchimp", department="nobody")) == []
    today = datetime.now(UTC).date()
    assert len(seqs(ask(gateway, auditor, "exchanges", since=str(today), until=str(today)))) == 6
    tomorrow = str(today + timedelta(days=1))
    assert seqs(ask(gateway, auditor, "exchanges", since=tomorrow)) == []


def test_search_pages_with_a_cursor(gateway, auditor):
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = ask(gateway, auditor, "exchanges", **params)
        seen += seqs(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"decision": "maybe"}, "decision must be one of"),
        ({"since": "yesterday"}, "not an ISO 8601"),
        ({"cursor": "bm9wZQ"}, "cursor is not one"),
        ({"email": "a@example.com", "phone": "+442079460958"}, "at most one of"),
        ({"limit": "0"}, "limit must be"),
    ],
)
def test_bad_search_parameters_are_explained(gateway, auditor, params, words):
    body = assert_problem(ask(gateway, auditor, "exchanges", **params), 400, "invalid-query")
    assert words in body["detail"]


def test_the_auditor_reads_and_changes_nothing(gateway, auditor, demo_token):
    for path in ("exchanges", "people?email=a@example.com", "processing", "withdrawals"):
        assert_problem(ask(gateway, demo_token, path), 403, "insufficient-scope")
    refused = post(gateway, auditor, MEMBERS, member("ada@example.com"))
    assert refused.status_code == 403
    consent = requests.post(
        f"{gateway}/api/v1/consent/events",
        json={"email": "x@example.com", "purpose": EMAIL, "status": "granted", "source": "t"},
        headers={"Authorization": f"Bearer {auditor}"},
        timeout=10,
    )
    assert_problem(consent, 403, "insufficient-scope")


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_an_export_comes_with_a_signed_manifest(gateway, auditor, file_format):
    response = ask(gateway, auditor, "exchanges/export", format=file_format, tool="mailchimp")
    assert response.status_code == 200
    if file_format == "csv":
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [row["seq"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
        assert json.loads(rows[1]["reasons"])[0]["rule"] == "consent"
    else:
        rows = [json.loads(line) for line in response.text.splitlines()]
        assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
    manifest_url = gateway + response.headers["Gatehouse-Export-Manifest"]
    answer = requests.get(manifest_url, headers={"Authorization": f"Bearer {auditor}"}, timeout=10)
    manifest = ExportManifest.from_json(answer.text)
    assert manifest.signature_valid()
    assert manifest.sha256 == hashlib.sha256(response.content).hexdigest()
    assert (manifest.count, manifest.first_seq, manifest.last_seq) == (6, 1, 6)
    assert manifest.filters == {"tool": "mailchimp"} and manifest.format == file_format
    forged = ExportManifest.from_json(answer.text.replace('"count": 6', '"count": 5'))
    assert not forged.signature_valid()


def test_the_person_report_names_every_tool_that_received_their_data(app, gateway, auditor):
    ada = ask(gateway, auditor, "people", email="ada@example.com").json()
    assert ada["subject_key"] == key("ada@example.com")
    [recipient] = ada["recipients"]
    assert recipient["tool"] == "mailchimp" and recipient["exchanges"] == 1
    assert recipient["purposes"] == [EMAIL]
    assert "user.contact.email" in recipient["data_categories"]
    assert len(recipient["consent_event_ids"]) == 1
    assert ada["exchanges"][0]["delivery"] == "received"
    bob = ask(gateway, auditor, "people", email="bob@example.com").json()
    assert bob["recipients"] == []
    assert [e["delivery"] for e in bob["exchanges"]] == ["not_sent"]
    nobody = ask(gateway, auditor, "people", email="nobody@example.com").json()
    assert nobody["exchanges"] == [] and nobody["recipients"] == []
    assert_problem(ask(gateway, auditor, "people"), 400, "invalid-query")


def test_the_record_of_processing_sets_traffic_beside_the_catalog(app, gateway, sandbox, auditor):
    document = demo_document(sandbox)
    document["tools"][0] |= {
        "data_subjects": ["customer", "prospect"],
        "retention": "until unsubscribed, then 30 days",
    }
    apply(app, document, {"MC_KEY": "unchanged"})
    body = ask(gateway, auditor, "processing").json()
    [activity] = body["activities"]
    assert activity["tool"] == "mailchimp" and activity["departments"] == ["growth"]
    assert activity["retention"] == "until unsubscribed, then 30 days"
    assert activity["data_subjects"] == ["customer", "prospect"]
    assert (activity["country"], activity["transfer_basis"]) == ("US", "dpf")
    seen = activity["seen"]
    assert seen["exchanges"] == 5  # two members added and three pings; Bob was refused
    assert seen["people"] == 2
    assert seen["departments"] == ["growth"]
    assert activity["undeclared"] == {"purposes": [], "data_categories": []}


def just_before_seq_1(app) -> datetime:
    with app.app_context():
        started = db.session.get(ExchangeRecord, 1).started_at
    return started - timedelta(microseconds=1)


def test_the_withdrawal_check_finds_data_sent_after_a_withdrawal(app, gateway, auditor):
    clean = ask(gateway, auditor, "withdrawals").json()
    assert clean["violations"] == []
    # Ada withdrew between her consent and the exchange, but the registry learns of it
    # only now: the exchange the gateway allowed was sent after her withdrawal.
    [event_id] = grant_consent(
        app, EMAIL, "ada@example.com", status="withdrawn", occurred_at=just_before_seq_1(app)
    )
    grant_consent(app, EMAIL, "alan@example.com", status="withdrawn")  # after his exchange
    body = ask(gateway, auditor, "withdrawals").json()
    assert body["people_with_withdrawals"] == 2
    assert body["exchanges_checked"] == 2
    [violation] = body["violations"]
    assert violation["seq"] == 1 and violation["withdrawal_event_id"] == event_id
    assert violation["subject_key"] == key("ada@example.com")
    assert violation["withdrawal_recorded_at"] > violation["at"] > violation["withdrawn_at"]


def test_every_auditor_query_is_itself_recorded(gateway, auditor):
    ask(gateway, auditor, "exchanges", decision="deny")
    ask(gateway, auditor, "people", email="ada@example.com")
    trail = ask(gateway, auditor, "queries").json()["items"]
    assert [q["kind"] for q in trail[:2]] == ["person_report", "search"]
    assert all(q["actor"].startswith("client:gh_") and "dpo-office" in q["actor"] for q in trail)
    assert trail[0]["parameters"] == {"subject_key": key("ada@example.com")}
    assert "ada@example.com" not in json.dumps(trail)
    assert trail[1]["parameters"] == {"decision": "deny"} and trail[1]["result_count"] == 1


def test_cli_search_person_and_queries(logged, cli):  # noqa: F811
    denied = cli("audit", "search", "--decision", "deny", "--json")
    assert [json.loads(line)["seq"] for line in denied.stdout.splitlines()] == [2]
    person = cli("audit", "person", "--email", "ada@example.com", "--json")
    assert json.loads(person.stdout)["recipients"][0]["tool"] == "mailchimp"
    bad = cli("audit", "search", "--since", "soon")
    assert bad.returncode == 2 and "not an ISO 8601" in bad.stderr
    trail = cli("audit", "queries", "--json").stdout.splitlines()
    assert [json.loads(line)["kind"] for line in trail] == ["person_report", "search"]
    assert all(json.loads(line)["actor"].startswith("cli:") for line in trail)


def test_cli_export_and_verify_export(logged, cli, tmp_path):  # noqa: F811
    target = tmp_path / "deny.csv"
    result = cli("audit", "export", "--format", "csv", "--decision", "deny", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert "exported 1 records" in result.stderr
    assert len(target.read_text().splitlines()) == 2  # header and Bob's refusal
    checked = cli("audit", "verify-export", str(target))
    assert checked.returncode == 0 and "ok: 1 records (seq 2..2)" in checked.stdout
    target.write_text(target.read_text().replace("deny", "allow"))
    altered = cli("audit", "verify-export", str(target))
    assert altered.returncode == 1 and "the file was altered" in altered.stdout


def test_cli_withdrawals_exits_1_on_a_violation(logged, cli):  # noqa: F811
    assert cli("audit", "withdrawals").returncode == 0
    grant_consent(
        logged, EMAIL, "ada@example.com", status="withdrawn", occurred_at=just_before_seq_1(logged)
    )
    result = cli("audit", "withdrawals")
    assert result.returncode == 1
    assert "1 sent after a withdrawal" in result.stdout

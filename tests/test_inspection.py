"""What the proxy checks is what it forwards and records: one reading of the body, paths
without people's identifiers, refusals recorded with what was known."""

from __future__ import annotations

import json

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from gateway.audit.models import ExchangeRecord
from gateway.db import db
from gateway.unambiguous_json import MAX_DEPTH, AmbiguousJSON, parse_document
from policies.subjects import subject_key
from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog, consent_to_every_purpose
from tests.test_proxy import MEMBERS_PATH, assert_problem, records

PEPPER = b"test-pepper"


def post_member(gateway: str, token: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        gateway + MEMBERS_PATH,
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            **headers,
        },
        timeout=10,
    )


def test_a_member_named_twice_is_refused_so_no_second_person_slips_through(
    app, gateway, sandbox, demo_token
):
    """Eve has no consent; Ada has. Read as the last value the body is Ada's, but a
    vendor reading the first value would subscribe Eve."""
    body = b'{"email_address": "eve@example.com", "email_address": "ada@example.com", '
    body += b'"status": "subscribed"}'
    response = post_member(gateway, demo_token, body)
    problem = assert_problem(response, 422, "invalid-body")
    assert {"pointer": "/email_address", "message": "this member is named more than once"} in (
        problem["errors"]
    )
    assert problem["reasons"][0]["rule"] == "invalid_body"
    assert sandbox_requests(sandbox) == []


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (
            b'{"email_address": "ada@example.com", "status": "subscribed", '
            b'"location": {"longitude": NaN}}',
            "/location/longitude",
        ),
        (
            b'{"email_address": "ada@example.com", "status": "subscribed", '
            b'"location": {"latitude": Infinity, "longitude": -Infinity}}',
            "/location/latitude",
        ),
        (
            b'{"email_address": "ada@example.com", "status": "subscribed", '
            b'"merge_fields": {"FNAME": "\\ud800"}}',
            "/merge_fields/FNAME",
        ),
        (
            b'{"email_address": "ada@example.com", "status": "subscribed", '
            b'"merge_fields": {"FNAME": "Ad\xe1"}}',
            "",
        ),
        (
            b'{"email_address": "ada@example.com", "status": "subscribed", '
            b'"merge_fields": {"FNAME": "\xed\xa0\x80"}}',
            "",
        ),  # a surrogate encoded as UTF-8
        (
            b'{"email_address": "ada@example.com", "status": "subscribed", "tags": '
            + b"[" * MAX_DEPTH
            + b"]" * MAX_DEPTH
            + b"}",
            "/tags" + "/0" * (MAX_DEPTH - 1),
        ),
        (b"[" * 60_000, ""),  # deeper than the parser itself can go
    ],
)
def test_json_that_readers_could_read_differently_is_refused(
    app, gateway, sandbox, demo_token, body, pointer
):
    response = post_member(gateway, demo_token, body)
    problem = assert_problem(response, 422, "invalid-body")
    assert pointer in [error["pointer"] for error in problem["errors"]], problem
    assert sandbox_requests(sandbox) == []


def test_a_body_declared_in_another_charset_is_refused(app, gateway, sandbox, demo_token):
    """Checked as UTF-8, "Ad\u00e9" would reach a vendor reading Latin-1 as "AdÃ©"."""
    body = '{"email_address": "ada@example.com", "status": "subscribed", '
    body += '"merge_fields": {"FNAME": "Adé"}}'
    response = post_member(
        gateway,
        demo_token,
        body.encode(),
        **{"Content-Type": "application/json; charset=iso-8859-1"},
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert sandbox_requests(sandbox) == []


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_a_compressed_body_is_refused_not_forwarded_unread(gateway, sandbox, demo_token, coding):
    """The vendor would decompress what the gateway read as plain JSON, or the reverse."""
    body = b'{"email_address": "ada@example.com", "status": "subscribed"}'
    response = post_member(gateway, demo_token, body, **{"Content-Encoding": coding})
    assert_problem(response, 415, "unsupported-media-type")
    assert sandbox_requests(sandbox) == []


def test_json_nested_to_the_limit_is_read():
    nested = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    assert parse_document(b'{"a": ' + nested + b"}") == {"a": json.loads(nested)}
    with pytest.raises(AmbiguousJSON):
        parse_document(b'{"a": [' + nested + b"]}")


def test_the_token_in_a_body_is_read_from_the_document_that_is_checked(app, gateway, sandbox):
    """Segment's SDK copies its key into the body. A body naming ``writeKey`` twice is
    not one document: its token is not taken from it, and nothing is forwarded."""
    client = apply(app, catalog("segment", sandbox)).new_clients[0]
    consent_to_every_purpose(app, "segment", "user-42", kind="external_id")
    token = get_token(gateway, client)
    call = {"type": "track", "userId": "user-42", "event": "Signed Up"}
    body = json.dumps({"writeKey": "forged", "batch": [call]})[:-1] + f', "writeKey": "{token}"}}'
    response = requests.post(
        f"{gateway}/proxy/segment/v1/batch",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert_problem(response, 401, "invalid-token")
    assert sandbox_requests(sandbox) == []


def brevo_token(app, gateway: str, sandbox: str) -> str:
    client = apply(app, catalog("brevo", sandbox)).new_clients[0]
    return get_token(gateway, client)


def test_identifiers_in_a_path_are_recorded_as_keyed_hashes(app, gateway, sandbox, cli, tmp_path):
    token = brevo_token(app, gateway, sandbox)
    consent_to_every_purpose(app, "brevo", "ada@example.com")
    headers = {"api-key": token}
    declared = requests.get(
        f"{gateway}/proxy/brevo/contacts/Ada@Example.com", headers=headers, timeout=10
    )
    assert declared.status_code in (200, 404), declared.text  # it reached the vendor
    undeclared = requests.get(
        f"{gateway}/proxy/brevo/people/eve@example.com/+44 20 7946 0958",
        headers=headers,
        timeout=10,
    )
    assert_problem(undeclared, 403, "operation-not-declared")

    ada = subject_key(PEPPER, "email", "ada@example.com")
    eve = subject_key(PEPPER, "email", "eve@example.com")
    phone = subject_key(PEPPER, "phone", "+442079460958")
    assert [record.path for record in records(app)] == [
        f"/proxy/brevo/contacts/{ada}",
        f"/proxy/brevo/people/{eve}/{phone}",
    ]
    exported = tmp_path / "export.jsonl"
    result = cli("audit", "export", "--format", "jsonl", "-o", str(exported))
    assert result.returncode == 0, result.stderr
    text = exported.read_text().lower()
    assert ada in text and eve in text
    for raw in ("ada@example.com", "eve@example.com", "7946"):
        assert raw not in text


def test_a_refusal_is_recorded_with_the_operation_and_purpose_it_knew(
    app, gateway, sandbox, demo_token
):
    purpose = "marketing.communications.email"
    headers = {"X-Purpose": purpose}
    post_member(gateway, demo_token, b"email=ada", **headers, **{"Content-Type": "text/plain"})
    post_member(gateway, demo_token, b'{"status": "subscribed"}', **headers)
    requests.get(
        f"{gateway}/proxy/mailchimp/campaigns",
        headers={"Authorization": f"Bearer {demo_token}", **headers},
        timeout=10,
    )
    with app.app_context():
        refused = db.session.scalars(select(ExchangeRecord).order_by(ExchangeRecord.seq)).all()
    assert [(r.status, r.operation, r.purpose) for r in refused] == [
        (415, "add_member", purpose),
        (422, "add_member", purpose),
        (403, None, purpose),
    ]
    assert [r.reasons[0]["rule"] for r in refused] == [
        "unsupported_media_type",
        "invalid_body",
        "operation_not_declared",
    ]


def test_every_refusal_rule_is_spelled_alike_in_records_problems_and_metrics(
    app, gateway, sandbox, demo_token
):
    authorization = {"Authorization": f"Bearer {demo_token}"}
    calls = [
        ("GET", "/proxy/nowhere/x", {}),
        ("GET", "/proxy/mailchimp/ping", {"data": b"{}"}),
        ("GET", "/proxy/mailchimp/ping", {"headers": {"X-Purpose": "nonsense"}}),
        ("POST", MEMBERS_PATH, {"data": b"x" * (65 * 1024)}),
    ]
    responses = []
    for method, path, extra in calls:
        headers = {**authorization, "Content-Type": "application/json", **extra.pop("headers", {})}
        responses.append(
            requests.request(method, gateway + path, headers=headers, timeout=10, **extra)
        )
    rules = [reason["rule"] for record in records(app) for reason in record.reasons]
    assert len(rules) == len(calls)
    assert all(rule == rule.lower() and "-" not in rule for rule in rules), rules
    problems = [response.json()["reasons"][0]["rule"] for response in responses]
    assert problems == rules
    metrics = requests.get(f"{gateway}/metrics", timeout=10).text
    counted = {
        sample.labels["rule"]
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "gatehouse_decision_reasons_total" and sample.labels["decision"] == "deny"
    }
    assert set(rules) <= counted

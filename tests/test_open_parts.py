"""Bodies are closed unless a spec opens them; whoever is named in an open part or a
free-text field is a data subject like one in a declared field."""

from __future__ import annotations

import json

import requests
from sqlalchemy import select

from connectors.body_schema import closed, open_values
from connectors.identifiers import identifiers_in
from gateway.audit.models import ExchangeSubject
from gateway.db import db
from policies.subjects import subject_key
from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog, consent_to_every_purpose
from tests.test_proxy import MEMBERS_PATH, assert_problem, records

ADA = {"email_address": "ada@example.com", "status": "subscribed"}


def post(gateway: str, token: str, path: str, body: dict) -> requests.Response:
    return requests.post(
        gateway + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_a_field_the_schema_does_not_declare_is_refused(app, gateway, sandbox, demo_token):
    response = post(gateway, demo_token, MEMBERS_PATH, {**ADA, "nickname": "eve@example.com"})
    problem = assert_problem(response, 422, "invalid-body")
    assert problem["errors"] == [{"pointer": "/nickname", "message": "is not allowed here"}]
    assert sandbox_requests(sandbox) == []


def test_a_person_without_consent_in_an_open_part_is_refused(app, gateway, sandbox, demo_token):
    """Mailchimp audiences have merge fields of their own; Ada consented, Eve did not."""
    body = {**ADA, "merge_fields": {"FNAME": "Ada", "REFERRER": "Eve <eve@example.com>"}}
    response = post(gateway, demo_token, MEMBERS_PATH, body)
    problem = assert_problem(response, 403, "policy-denied")
    assert problem["reasons"] == [
        {
            "rule": "consent",
            "message": "/merge_fields/REFERRER: no consent on record for "
            "'marketing.communications.email'",
        }
    ]
    assert sandbox_requests(sandbox) == []

    body["merge_fields"]["REFERRER"] = "alan@example.com"  # Alan consented
    assert post(gateway, demo_token, MEMBERS_PATH, body).status_code == 200
    [received] = sandbox_requests(sandbox)
    assert json.loads(received["body"])["merge_fields"]["REFERRER"] == "alan@example.com"
    alan = subject_key(b"test-pepper", "email", "alan@example.com")
    with app.app_context():
        assert alan in db.session.scalars(select(ExchangeSubject.subject_key)).all()


def test_a_batch_member_naming_a_person_without_consent_is_dropped(
    app, gateway, sandbox, demo_token
):
    body = {
        "members": [
            {**ADA, "merge_fields": {"NOTE": "referred by eve@example.com"}},
            {"email_address": "alan@example.com", "status": "subscribed"},
        ]
    }
    response = post(gateway, demo_token, "/proxy/mailchimp/lists/a1b2c3d4e5", body)
    assert response.status_code == 200, response.text
    assert response.headers["Gatehouse-Decision"] == "redact"
    [received] = sandbox_requests(sandbox)
    assert json.loads(received["body"])["members"] == [body["members"][1]]
    [record] = records(app)
    assert [reason["rule"] for reason in record.reasons] == ["consent"]
    assert "/members/0/merge_fields/NOTE" in record.reasons[0]["message"]


def test_a_phone_number_in_an_open_part_needs_the_grant_of_its_category(
    app, gateway, sandbox, demo_token
):
    """The demo grant covers e-mail addresses and names, not phone numbers."""
    body = {**ADA, "merge_fields": {"NOTE": "call her on +44 20 7946 0958"}}
    problem = assert_problem(post(gateway, demo_token, MEMBERS_PATH, body), 403, "policy-denied")
    assert problem["reasons"][0] == {
        "rule": "minimisation",
        "message": "user.contact.phone_number at /merge_fields/NOTE is not in the grant",
    }
    assert sandbox_requests(sandbox) == []


def intercom_token(app, gateway: str, sandbox: str) -> str:
    """Intercom's sandbox workspace starts with Grace (64f0c0ffee000000000000aa)."""
    client = apply(app, catalog("intercom", sandbox)).new_clients[0]
    consent_to_every_purpose(app, "intercom", "64f0c0ffee000000000000aa", kind="external_id")
    consent_to_every_purpose(app, "intercom", "ada@example.com")
    return get_token(gateway, client)


def test_a_person_named_in_a_free_text_field_needs_consent_too(app, gateway, sandbox):
    token = intercom_token(app, gateway, sandbox)
    message = {
        "message_type": "inapp",
        "body": "Ask eve@example.com for the slides",
        "from": {"type": "admin", "id": 394051},
        "to": {"type": "user", "id": "64f0c0ffee000000000000aa"},
    }
    refused = post(gateway, token, "/proxy/intercom/messages", message)
    problem = assert_problem(refused, 403, "policy-denied")
    assert problem["reasons"][0]["message"].startswith("/body: no consent on record")
    assert sandbox_requests(sandbox) == []

    message["body"] = "Ask ada@example.com for the slides"  # Ada consented
    assert post(gateway, token, "/proxy/intercom/messages", message).status_code == 200
    assert len(sandbox_requests(sandbox)) == 1


def test_what_a_spec_leaves_open_is_where_identifiers_are_looked_for():
    schema = closed(
        {
            "type": "object",
            "anyOf": [{"required": ["a"]}, {"properties": {"b": {"type": "string"}}}],
            "properties": {
                "a": {"type": "object", "properties": {"x": {"type": "string"}}},
                "note": {"type": "string", "x-gatehouse-free-text": True},
                "extra": {"type": "object", "additionalProperties": True},
            },
        }
    )
    assert schema["additionalProperties"] is False
    assert schema["properties"]["b"] is True  # named by a condition: declared
    assert schema["properties"]["a"]["additionalProperties"] is False
    assert "additionalProperties" not in schema["anyOf"][1]  # a condition stays as it is
    document = {"a": {"x": "x@example.com"}, "b": "b", "note": "n", "extra": {"k": ["v"]}}
    assert list(open_values(schema, document)) == [(("note",), "n"), (("extra", "k"), ["v"])]


def test_identifiers_are_told_from_dates_times_and_numbers():
    text = (
        "Mail Ada.Lovelace+news@Example.co.uk or call +44 (20) 7946-0958; "
        "not 2024-05-01T10:00:00+01:00, +12, order +1234, v2@3 or user@localhost"
    )
    assert [(kind, found) for _, kind, found in identifiers_in(text, ())] == [
        ("email", "Ada.Lovelace+news@Example.co.uk"),
        ("phone", "+44 (20) 7946-0958"),
    ]

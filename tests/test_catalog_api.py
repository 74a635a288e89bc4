"""The catalog's API over HTTP: browse and filter, read a tool, edit it, grants, credentials,
status changes, the history; each with the permission it needs and clear refusals."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select, text

from catalog.models import Tool
from gateway.db import db
from gateway.vault import vault_of
from tests.conftest import apply, demo_document, get_token, register_test_app
from tests.people import csrf_token, make_user, signed_in

ENV = {"MC_KEY": "mailchimp-key-0123456789abcdef-us21"}
ORIGINAL_KEY = ENV["MC_KEY"]


def catalog_document(sandbox_url: str) -> dict:
    """Mailchimp approved (for growth), HubSpot suspended, and an app for each role of apps."""
    document = demo_document(sandbox_url)
    document["tools"][0].update(
        category="email", description="Newsletters and audiences for <b>growth</b>"
    )
    document["tools"].append(
        {
            "slug": "hubspot",
            "name": "HubSpot",
            "connector": "hubspot",
            "category": "crm",
            "status": "suspended",
            "base_url": f"{sandbox_url}/hubspot",
            "allow_private_network": True,
        }
    )
    return document


#: Apps holding the permissions of each kind of caller, as scopes.
APPS = {
    "reader": ["catalog:read"],
    "reviewer-bot": ["reviews:write"],
    "admin-bot": ["catalog:read", "credentials:write", "history:read"],
}


@pytest.fixture
def tokens(app, gateway):
    apply(app, catalog_document("http://127.0.0.1:9"), ENV)
    return {
        name: get_token(gateway, register_test_app(app, name, scopes))
        for name, scopes in APPS.items()
    }


def call(gateway: str, token: str, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(
        method, f"{gateway}/api/v1{path}", headers=headers, timeout=10, **kwargs
    )


def test_an_app_browses_approved_tools_only(gateway, tokens):
    answer = call(gateway, tokens["reader"], "GET", "/tools")
    assert answer.status_code == 200, answer.text
    assert [tool["slug"] for tool in answer.json()["items"]] == ["mailchimp"]
    tool = answer.json()["items"][0]
    assert tool["grants"][0]["department"] == "growth"
    assert tool["connect"]["base_url"] == f"{gateway}/proxy/mailchimp"
    assert tool["connect"]["key_locations"]  # where the SDK puts the key
    assert tool["connect"]["example"].startswith("curl")
    assert "$GATEHOUSE_KEY" in tool["connect"]["example"]
    assert "credentials" not in tool
    hidden = call(gateway, tokens["reader"], "GET", "/tools/hubspot")
    assert hidden.status_code == 404
    assert hidden.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"q": "newsletters"}, ["mailchimp"]),
        ({"q": "MAILCHIMP marketing"}, ["mailchimp"]),
        ({"q": "salesforce"}, []),
        ({"category": "email"}, ["mailchimp"]),
        ({"category": "crm"}, ["hubspot"]),
        ({"purpose": "marketing"}, ["hubspot", "mailchimp"]),
        ({"purpose": "marketing.communications.email"}, ["hubspot", "mailchimp"]),
        ({"purpose": "analytics.reporting"}, []),
        ({"data_category": "user.contact"}, ["hubspot", "mailchimp"]),
        ({"data_category": "user.biometric"}, ["hubspot"]),  # HubSpot carries "user"
        ({"data_category": "system"}, []),
        ({"status": "suspended"}, ["hubspot"]),
    ],
)
def test_filters_for_it(app, query, found):
    apply(app, catalog_document("http://127.0.0.1:9"), ENV)
    reviewer = signed_in(app, make_user(app, "it@example.com", "it_reviewer"))
    answer = reviewer.get("/api/v1/tools", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [tool["slug"] for tool in answer.get_json()["items"]] == found


@pytest.mark.parametrize(
    "query",
    [
        {"purpose": "marketing.nonsense"},
        {"status": "live"},
        {"data_category": "x"},
        {"cursor": "!"},
    ],
)
def test_bad_filters_are_400(gateway, tokens, query):
    answer = call(gateway, tokens["reader"], "GET", "/tools", params=query)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("/invalid-query")


def test_pages_follow_the_cursor(app):
    document = catalog_document("http://127.0.0.1:9")
    apply(app, document, ENV)
    reviewer = signed_in(app, make_user(app, "it@example.com", "it_reviewer"))
    first = reviewer.get("/api/v1/tools?limit=1").get_json()
    second = reviewer.get(f"/api/v1/tools?limit=1&cursor={first['next_cursor']}").get_json()
    assert [t["slug"] for t in first["items"] + second["items"]] == ["hubspot", "mailchimp"]
    assert second["next_cursor"] is None


def test_reviewer_edits_a_tool_and_the_history_says_so(gateway, tokens):
    changes = {"description": "Audiences", "review_due": "2030-01-31", "category": "email"}
    answer = call(gateway, tokens["reviewer-bot"], "PATCH", "/tools/mailchimp", json=changes)
    assert answer.status_code == 200, answer.text
    assert answer.json()["review_due"] == "2030-01-31"
    history = call(gateway, tokens["admin-bot"], "GET", "/history?object_id=mailchimp").json()
    latest = history["items"][0]
    assert latest["action"] == "updated" and latest["source"] == "api"
    assert latest["actor"]["label"] == "reviewer-bot"
    assert latest["after"] == {"description": "Audiences", "review_due": "2030-01-31"}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"review_due": "tomorrow"}, "/review_due"),
        ({"country": "usa"}, "/country"),
        ({"name": ""}, "/name"),
        ({"status": "approved"}, ""),  # not editable: additional property
        ({"base_url": "http://169.254.169.254/"}, "/base_url"),
        ({}, ""),
    ],
)
def test_bad_edits_are_refused_per_field(gateway, tokens, body, pointer):
    answer = call(gateway, tokens["reviewer-bot"], "PATCH", "/tools/mailchimp", json=body)
    assert answer.status_code == 422, answer.text
    assert pointer in [error["pointer"] for error in answer.json()["errors"]]


def test_reading_apps_cannot_change_anything(gateway, tokens):
    for method, path, body in [
        ("PATCH", "/tools/mailchimp", {"name": "x"}),
        ("POST", "/tools/mailchimp/status", {"status": "suspended", "reason": "x"}),
        ("PUT", "/tools/mailchimp/credentials", {"api_key": "x"}),
        ("PUT", "/grants/growth/mailchimp", {"purposes": ["marketing"]}),
        ("DELETE", "/grants/growth/mailchimp", None),
        ("GET", "/history", None),
    ]:
        answer = call(gateway, tokens["reader"], method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.text)


def test_grants_are_put_listed_and_withdrawn(gateway, tokens):
    terms = {
        "purposes": ["marketing.communications.email"],
        "data_categories": ["user.contact.email"],
        "mode": "redact",
        "expires": "2027-06-30",
    }
    put = call(gateway, tokens["reviewer-bot"], "PUT", "/grants/growth/mailchimp", json=terms)
    assert put.status_code == 200, put.text
    assert put.json()["mode"] == "redact"
    listed = call(gateway, tokens["reader"], "GET", "/grants?tool=mailchimp").json()
    assert listed == {"items": [put.json()], "next_cursor": None}
    first = call(gateway, tokens["reader"], "GET", "/grants?limit=1&department=growth").json()
    assert first["items"] == [put.json()] and first["next_cursor"] is None
    assert call(gateway, tokens["reader"], "GET", "/grants?cursor=xyz").status_code == 400
    bad = call(
        gateway,
        tokens["reviewer-bot"],
        "PUT",
        "/grants/growth/mailchimp",
        json={"purposes": ["spam"]},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/purposes/0"
    unknown = call(gateway, tokens["reviewer-bot"], "PUT", "/grants/sales/mailchimp", json=terms)
    assert unknown.status_code == 404
    gone = call(gateway, tokens["reviewer-bot"], "DELETE", "/grants/growth/mailchimp")
    assert gone.status_code == 204
    assert call(gateway, tokens["reader"], "GET", "/grants").json()["items"] == []
    again = call(gateway, tokens["reviewer-bot"], "DELETE", "/grants/growth/mailchimp")
    assert again.status_code == 404


def test_credentials_are_write_only_masked_and_never_in_history(app, gateway, tokens, caplog):
    secret = "rotated-secret-value-0123456789-us21"
    stored = call(
        gateway,
        tokens["admin-bot"],
        "PUT",
        "/tools/mailchimp/credentials",
        json={"api_key": secret},
    )
    assert stored.status_code == 204, stored.text
    tool = call(gateway, tokens["admin-bot"], "GET", "/tools/mailchimp").json()
    assert tool["credentials"] == {"api_key": "••••" + secret[-4:]}
    history = call(gateway, tokens["admin-bot"], "GET", "/history").text
    export = call(gateway, tokens["admin-bot"], "GET", "/history/export?format=csv").text
    for text_ in (json.dumps(tool), history, export, caplog.text):
        assert secret not in text_ and secret[:-4] not in text_
        assert ORIGINAL_KEY not in text_
    rotated = json.loads(history)["items"][0]
    assert rotated["action"] == "credentials_rotated"
    assert rotated["after"] == {"fields": ["api_key"]}
    with app.app_context():
        tool_row = db.session.scalar(select(Tool).where(Tool.slug == "mailchimp"))
        assert vault_of(app).decrypt_json(tool_row.credentials_encrypted) == {"api_key": secret}
        assert tool_row.credential_sources == {}  # no longer from the environment
        dump = str(db.session.execute(text("SELECT * FROM tools")).all())
        assert secret not in dump


def test_credentials_of_another_connector_are_refused(gateway, tokens):
    answer = call(
        gateway, tokens["admin-bot"], "PUT", "/tools/mailchimp/credentials", json={"token": "x"}
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "/token"


def test_status_changes_need_a_reason_and_follow_the_lifecycle(gateway, tokens):
    bot = tokens["reviewer-bot"]
    no_reason = call(gateway, bot, "POST", "/tools/mailchimp/status", json={"status": "suspended"})
    assert no_reason.status_code == 422
    blank = {"status": "suspended", "reason": "   "}
    assert call(gateway, bot, "POST", "/tools/mailchimp/status", json=blank).status_code == 422
    steps = [
        ("suspended", 200),
        ("suspended", 409),
        ("approved", 200),
        ("retired", 200),
        ("approved", 409),
    ]
    for status, expected in steps:
        body = {"status": status, "reason": f"going {status}"}
        answer = call(gateway, bot, "POST", "/tools/mailchimp/status", json=body)
        assert answer.status_code == expected, (status, answer.text)
    history = call(gateway, tokens["admin-bot"], "GET", "/history?object_id=mailchimp").json()
    actions = [event["action"] for event in history["items"]]
    assert actions[:3] == ["retired", "reinstated", "suspended"]


def test_history_filters_and_export_formats(gateway, tokens):
    admin = tokens["admin-bot"]
    applied = call(gateway, admin, "GET", "/history?source=apply&object_type=tool").json()
    assert {event["object"]["id"] for event in applied["items"]} == {"mailchimp", "hubspot"}
    assert all(event["actor"]["label"].endswith("(apply)") for event in applied["items"])
    later = call(gateway, admin, "GET", "/history?since=2999-01-01").json()
    assert later["items"] == []
    bad = call(gateway, admin, "GET", "/history?since=yesterday")
    assert bad.status_code == 400
    lines = call(gateway, admin, "GET", "/history/export?object_type=tool").text.splitlines()
    events = [json.loads(line) for line in lines]
    assert [(event["object"]["id"], event["action"]) for event in events] == [
        ("mailchimp", "created"),
        ("mailchimp", "credentials_stored"),
        ("hubspot", "created"),
    ]
    csv_text = call(gateway, admin, "GET", "/history/export?format=csv").text
    assert csv_text.startswith("id,occurred_at,actor_kind")
    assert call(gateway, admin, "GET", "/history/export?format=xml").status_code == 400


def test_a_session_change_needs_the_csrf_token(app):
    apply(app, catalog_document("http://127.0.0.1:9"), ENV)
    client = signed_in(app, make_user(app, "it@example.com", "it_reviewer"))
    body = {"status": "suspended", "reason": "breach"}
    assert client.post("/api/v1/tools/mailchimp/status", json=body).status_code == 403
    token = csrf_token(client)
    answer = client.post(
        "/api/v1/tools/mailchimp/status", json=body, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 200
    assert answer.get_json()["status_reason"] == "breach"

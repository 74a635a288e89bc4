"""Hostile input to every API endpoint and to the token endpoints: a 4xx that says what
is wrong, never a 500 (on PostgreSQL a NUL, an overlong value or an out-of-range time
used to reach the database and fail there)."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from tests.conftest import apply, get_token
from tests.test_audit import logged  # noqa: F401  (the fixture)
from tests.test_audit_queries import ask, seqs
from tests.test_proxy import assert_problem

EVENT = {
    "email": "ada@example.com",
    "purpose": "marketing.communications.email",
    "status": "granted",
    "source": "signup-form",
}
AUDITING_SCOPES = ["consent:write", "consent:read", "audit:read"]


@pytest.fixture
def api_client(app, gateway):
    document = {
        "departments": [{"slug": "privacy", "name": "Privacy"}],
        "clients": [{"name": "dpo-tools", "department": "privacy", "scopes": AUDITING_SCOPES}],
    }
    return apply(app, document).new_clients[0]


@pytest.fixture
def api_token(gateway, api_client) -> str:
    return get_token(gateway, api_client)


def get(gateway: str, token: str, path_and_query: str) -> requests.Response:
    """A GET with the query exactly as written (percent-escapes included)."""
    return requests.get(
        f"{gateway}/api/v1{path_and_query}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def cursor_after(text: str) -> str:
    return base64.urlsafe_b64encode(f"after:{text}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path_and_query", "words"),
    [
        # full-width 12
        ("/audit/exchanges?limit=%EF%BC%91%EF%BC%92", "limit must be a whole number"),
        ("/audit/exchanges?limit=%C2%B2", "limit must be a whole number"),  # superscript 2
        ("/audit/exchanges?limit=1_000", "limit must be a whole number"),
        ("/audit/exchanges?limit=%2012%20", "limit must be a whole number"),
        ("/audit/exchanges?limit=%2B3", "limit must be a whole number"),
        ("/audit/exchanges?limit=99999999999999999999999", "limit must be a whole number"),
        ("/audit/queries?limit=%EF%BC%91%EF%BC%92", "limit must be a whole number"),
        ("/audit/queries?limit=-1", "limit must be a whole number"),
        (f"/audit/exchanges?cursor={cursor_after('9' * 25)}", "cursor is not one"),
        ("/audit/exchanges?cursor=" + cursor_after("\uff11\uff12"), "cursor is not one"),
        ("/audit/exchanges?since=9999-12-31T23:59:59-14:00", "must lie between"),
        ("/audit/exchanges?since=0001-01-01T00:00:00%2B01:00", "must lie between"),
        ("/audit/exchanges?until=9999-12-31", "must lie between"),
        ("/audit/exchanges?since=0000-01-01", "not an ISO 8601"),
        ("/audit/exchanges/export?since=0001-01-01T00:00:00%2B14:00", "must lie between"),
        ("/audit/processing?since=0001-01-01T00:00:00%2B01:00", "must lie between"),
        ("/audit/withdrawals?since=9999-12-31T23:00:00-14:00", "must lie between"),
        ("/audit/exchanges?tool=mail%00chimp", "NUL"),
        ("/audit/exchanges?department=%00", "NUL"),
        ("/audit/exchanges?client=gh_%00", "NUL"),
        ("/audit/exchanges?decision=allow%00", "NUL"),
        ("/audit/exchanges?%00=1", "NUL"),
        ("/audit/exchanges?rule=consent%25", "rule must be a snake_case rule name"),
        ("/audit/exchanges?purpose=%25", "purpose must be a dotted key"),
        ("/audit/exchanges?category=user.%22contact", "category must be a dotted key"),
        ("/audit/exchanges?tool=" + "x" * 1001, "longer than 1000"),
        ("/audit/people?external_id=a%00b", "NUL"),
        ("/consent?external_id=a%00b", "NUL"),
        ("/consent?email=ada@example.com&phone=%2B442079460958", "exactly one"),
        ("/openapi.json?x=%00", "NUL"),
    ],
)
def test_unreadable_query_parameters_are_explained(gateway, api_token, path_and_query, words):
    body = assert_problem(get(gateway, api_token, path_and_query), 400, "invalid-query")
    assert words in body["detail"]


@pytest.mark.parametrize("export_id", ["%EF%BC%91%EF%BC%92", "99999999999999999999", "0", "x"])
def test_an_export_id_that_is_not_a_plain_integer_names_no_export(gateway, api_token, export_id):
    response = get(gateway, api_token, f"/audit/exports/{export_id}/manifest")
    assert "ids are whole numbers" in assert_problem(response, 404, "not-found")["detail"]


def test_like_wildcards_in_a_filter_match_themselves(gateway, logged, api_token):  # noqa: F811
    assert seqs(ask(gateway, api_token, "exchanges", purpose="marketing.communications")) == [
        1,
        2,
        3,
    ]
    # "_" is LIKE's any-character: unescaped, it matched the "." of the real purposes.
    assert seqs(ask(gateway, api_token, "exchanges", purpose="marketing_communications")) == []


def post_events(gateway: str, token: str, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        f"{gateway}/api/v1/consent/events",
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=10,
    )


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({**EVENT, "source": "cmp\u0000"}, "/source"),
        ({**EVENT, "source": "cmp\ud800"}, "/source"),
        ({**EVENT, "evidence": {"tc\u0000": "x"}}, "/evidence"),
        ({**EVENT, "source": "s" * 101}, "/source"),
        ({**EVENT, "lawful_basis": "b" * 31}, "/lawful_basis"),
        ({**EVENT, "lawful_basis": 5}, "/lawful_basis"),
        ({**EVENT, "email": 5}, "/email"),
        ({**EVENT, "status": ["granted"]}, "/status"),
        ({**EVENT, "evidence": ["a"]}, "/evidence"),
        ({**EVENT, "evidence": {"nested": {"a": 1}}}, "/evidence"),
        ({**EVENT, "surprise": 1}, ""),
        ({**EVENT, "phone": "+442079460958"}, ""),
        ({"events": [EVENT, {**EVENT, "source": 7}]}, "/events/1/source"),
        ({"events": []}, "/events"),
        ({"events": [{}] * 1001}, "/events"),
        (5, ""),
        ([EVENT], ""),
    ],
)
def test_a_body_against_its_schema_is_refused_with_where(gateway, api_token, body, pointer):
    body = assert_problem(post_events(gateway, api_token, body), 422, "invalid-body")
    assert pointer in [error["pointer"] for error in body["errors"]], body


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        ("occurred_at", "9999-12-31T23:59:59-14:00"),
        ("occurred_at", "0001-01-01T00:00:00+01:00"),
        ("expires_at", "9999-12-31T23:00:00Z"),
        ("expires_at", "1899-12-31T23:59:59Z"),
    ],
)
def test_a_time_outside_what_is_stored_is_refused(gateway, api_token, field, moment):
    body = assert_problem(
        post_events(gateway, api_token, {**EVENT, field: moment}), 422, "invalid-body"
    )
    assert f"{field} must lie between 1900-01-01 and 9999-12-30" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "ada@example.com", "purpose": ',
        b"\xff\xfe\x00",
        json.dumps({**EVENT, "evidence": {"score": "NaN"}}).replace('"NaN"', "NaN").encode(),
        b"[" * 30_000 + b"]" * 30_000,
        b'{"email": "ada@example.com", "email": "eve@example.com", "purpose": "x"}',
    ],
)
def test_a_body_that_is_not_json_is_refused(gateway, api_token, raw):
    body = assert_problem(post_events(gateway, api_token, raw), 422, "invalid-body")
    assert "not one unambiguous JSON document" in body["detail"]
    assert body["errors"][0]["message"]


def test_a_body_that_is_not_declared_json_is_refused(gateway, api_token):
    response = post_events(gateway, api_token, EVENT, content_type="text/plain")
    assert_problem(response, 415, "unsupported-media-type")


def test_a_sound_event_at_the_edges_of_what_is_stored_is_recorded(gateway, api_token):
    event = {**EVENT, "occurred_at": "1900-01-01T00:00:00Z", "expires_at": "9999-12-30T12:00Z"}
    response = post_events(gateway, api_token, {"events": [event]})
    assert response.status_code == 201, response.text
    states = get(gateway, api_token, "/consent?email=ada@example.com").json()["states"]
    assert states[0]["expires_at"].startswith("9999-12-30T12:00:00")


def oauth_post(gateway: str, endpoint: str, **kwargs) -> requests.Response:
    return requests.post(f"{gateway}/oauth/{endpoint}", timeout=10, **kwargs)


def basic(username: bytes, password: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(username + b":" + password).decode()}


GRANT = {"grant_type": "client_credentials"}


@pytest.mark.parametrize(
    ("endpoint", "request_kwargs"),
    [
        ("token", {"data": {**GRANT, "client_id": "gh_\x00", "client_secret": "x"}}),
        ("token", {"data": {**GRANT, "client_id": "a" * 20_000, "client_secret": "x"}}),
        ("token", {"data": GRANT, "headers": basic(b"gh_\x00", b"x")}),
        ("token", {"data": GRANT, "headers": basic(b"\xff\xfe", b"\xff")}),
        ("token", {"data": GRANT, "headers": {"Authorization": "Basic !!!"}}),
        ("token", {"json": {**GRANT, "client_id": "gh_x", "client_secret": "x"}}),
        (
            "token",
            {
                "data": b"grant_type=\xff\xfe&client_id=%00",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
        ),
        ("introspect", {"data": {"token": "x", "client_id": "gh_\x00", "client_secret": "y"}}),
        ("revoke", {"data": {"token": "x", "client_id": "\x00", "client_secret": "y"}}),
    ],
)
def test_token_endpoints_refuse_garbage_clients_without_failing(gateway, endpoint, request_kwargs):
    response = oauth_post(gateway, endpoint, **request_kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"] in (
        "invalid_client",
        "invalid_request",
        "unsupported_grant_type",
    )


@pytest.mark.parametrize("token", ["\x00", "a.b\x00.c", "x" * 50_000, "é.é.é"])
@pytest.mark.parametrize("endpoint", ["introspect", "revoke"])
def test_garbage_tokens_are_not_tokens(gateway, api_client, endpoint, token):
    response = oauth_post(
        gateway,
        endpoint,
        data={"token": token},
        auth=(api_client.client_id, api_client.client_secret),
    )
    assert response.status_code == 200, response.text
    if endpoint == "introspect":
        assert response.json() == {"active": False}

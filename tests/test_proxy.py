"""End to end over loopback: an app's call through the gateway to a real upstream."""

from __future__ import annotations

import base64
import http.client
import time
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select, text

from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.db import db
from policies.subjects import subject_key
from tests.conftest import (
    SANDBOX_MAILCHIMP_KEY,
    apply,
    demo_document,
    get_token,
    sandbox_requests,
    settled,
)

MEMBER = {"email_address": "ada@example.com", "status": "subscribed"}
MEMBERS_PATH = "/proxy/mailchimp/lists/a1b2c3d4e5/members"


def records(app) -> list[ExchangeRecord]:
    """The app's exchange records, once the outcomes of its calls so far are written."""
    settled(app)
    with app.app_context():
        return db.session.scalars(select(ExchangeRecord).order_by(ExchangeRecord.seq)).all()


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["X-Request-Id"]
    body = response.json()
    assert body["type"].endswith("/" + slug)
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def test_allowed_call_reaches_vendor_with_vendor_credential_only(app, gateway, sandbox, demo):
    token = get_token(gateway, demo)
    response = requests.post(
        gateway + MEMBERS_PATH + "?skip_merge_validation=true",
        json=MEMBER,
        headers={"Authorization": f"Bearer {token}", "Cookie": "app-session=1"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["email_address"] == "ada@example.com"
    assert response.headers["Gatehouse-Decision"] == "allow"
    request_id = response.headers["X-Request-Id"]

    [received] = sandbox_requests(sandbox)
    assert received["path"] == "/mailchimp/3.0/lists/a1b2c3d4e5/members"
    assert received["query"] == "skip_merge_validation=true"
    scheme, _, encoded = received["headers"]["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode().endswith(":" + SANDBOX_MAILCHIMP_KEY)
    assert token not in str(received["headers"])
    assert "Cookie" not in received["headers"]

    [record] = records(app)
    assert record.request_id == request_id
    assert (record.decision, record.outcome.value, record.status) == ("allow", "completed", 200)
    assert record.client_id == demo.client_id
    assert record.department == "growth"
    assert record.tool == "mailchimp"
    assert record.upstream_status == 200
    assert record.bytes_in == len(response.request.body)
    assert record.bytes_out == len(response.content)
    assert record.latency_ms >= record.upstream_latency_ms > 0


def test_suspended_tool_is_refused_and_recorded(app, gateway, sandbox):
    report = apply(app, demo_document(sandbox, status="suspended"), {"MC_KEY": "k"})
    token = get_token(gateway, report.new_clients[0])
    response = requests.post(
        gateway + MEMBERS_PATH,
        json=MEMBER,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    body = assert_problem(response, 403, "policy-denied")
    assert body["reasons"][0] == {
        "rule": "tool_status",
        "message": "tool 'mailchimp' is suspended, not approved",
    }
    assert response.headers["Gatehouse-Decision"] == "deny"
    assert sandbox_requests(sandbox) == []
    [record] = records(app)
    assert (record.decision, record.status, record.upstream_status) == ("deny", 403, None)
    assert record.reasons[0]["rule"] == "tool_status"


def test_suspension_takes_effect_on_the_next_call(app, gateway, sandbox, demo):
    token = get_token(gateway, demo)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(gateway + "/proxy/mailchimp/ping", headers=headers, timeout=10).ok
    apply(app, demo_document(sandbox, status="suspended"), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    response = requests.get(gateway + "/proxy/mailchimp/ping", headers=headers, timeout=10)
    assert_problem(response, 403, "policy-denied")


def test_department_without_grant_is_refused(app, gateway, sandbox):
    document = demo_document(sandbox)
    document["grants"] = []
    report = apply(app, document, {"MC_KEY": "k"})
    token = get_token(gateway, report.new_clients[0])
    response = requests.get(
        gateway + "/proxy/mailchimp/ping", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    body = assert_problem(response, 403, "policy-denied")
    assert body["reasons"][0]["rule"] == "department_grant"
    assert sandbox_requests(sandbox) == []


def test_unknown_tool_is_404_and_recorded(app, gateway, demo):
    token = get_token(gateway, demo)
    response = requests.get(
        gateway + "/proxy/nosuchtool/x", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert_problem(response, 404, "unknown-tool")
    [record] = records(app)
    assert (record.tool, record.status, record.decision) == ("nosuchtool", 404, "deny")


@pytest.mark.parametrize(
    "raw_path",
    [
        "/proxy/mailchimp/../../admin",
        "/proxy/mailchimp/lists/%2e%2e/%2e%2e/admin",
        "/proxy/mailchimp/lists/..%2f..%2fadmin",
        "/proxy/mailchimp//127.0.0.2/evil",
        "/proxy/mailchimp/http://127.0.0.2/evil",
        "/proxy/mailchimp/lists/%5c..%5cadmin",
        "/proxy/mailchimp/./lists",
    ],
)
def test_path_escape_is_refused_before_any_upstream_request(app, gateway, sandbox, demo, raw_path):
    token = get_token(gateway, demo)
    # http.client sends the path exactly as written; requests would normalise the dots.
    connection = http.client.HTTPConnection(urlsplit(gateway).netloc, timeout=10)
    connection.request("GET", raw_path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    assert response.status == 400, body
    assert response.getheader("Content-Type") == "application/problem+json"
    assert b"unsafe-path" in body
    assert sandbox_requests(sandbox) == []
    [record] = records(app)
    assert (record.decision, record.status) == ("deny", 400)
    assert record.reasons[0]["rule"] == "upstream_path"


def test_missing_and_forged_tokens_are_401(app, gateway, demo):
    response = requests.get(gateway + "/proxy/mailchimp/ping", timeout=10)
    assert_problem(response, 401, "invalid-token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    token = get_token(gateway, demo)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = requests.get(
        gateway + "/proxy/mailchimp/ping", headers={"Authorization": f"Bearer {forged}"}, timeout=10
    )
    assert_problem(response, 401, "invalid-token")
    assert [r.status for r in records(app)] == [401, 401]


def test_exchange_is_refused_with_503_when_it_cannot_be_recorded(app, gateway, sandbox, demo):
    token = get_token(gateway, demo)
    with app.app_context():
        db.session.execute(text("ALTER TABLE exchanges RENAME TO exchanges_away"))
        db.session.commit()
    try:
        response = requests.post(
            gateway + MEMBERS_PATH,
            json=MEMBER,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE exchanges_away RENAME TO exchanges"))
            db.session.commit()
    assert_problem(response, 503, "audit-unavailable")
    assert sandbox_requests(sandbox) == []


def test_body_over_the_limit_is_413(app, gateway, sandbox, demo):
    token = get_token(gateway, demo)
    response = requests.post(
        gateway + MEMBERS_PATH,
        data=b"x" * (65 * 1024),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert_problem(response, 413, "body-too-large")
    assert sandbox_requests(sandbox) == []


def generic_tool(base_url: str) -> dict:
    """A tool on the generic connector, declaring the recording upstream's paths."""
    return {
        "slug": "echo",
        "name": "Echo",
        "connector": "generic",
        "base_url": base_url,
        "allow_private_network": True,  # the recording upstream listens on loopback
        "status": "approved",
        "credentials": {"token": "vendor-token"},
        "spec": {
            "credentials": {"token": {"description": "API token"}},
            "auth": {"type": "bearer", "value": "{token}"},
            "operations": [
                {"id": name, "method": "GET", "path": f"/{name}", "default_purpose": "analytics"}
                for name in ("redirect", "hop", "slow", "x")
            ],
        },
    }


def echo_document(base_url: str) -> dict:
    document = demo_document(base_url)
    document["tools"] = [generic_tool(base_url)]
    document["grants"][0].update(tool="echo", purposes=["analytics"])
    return document


@pytest.fixture
def upstream_tool(app, upstream):
    return apply(app, echo_document(upstream.url + "/api")).new_clients[0]


def test_redirects_are_returned_not_followed(gateway, upstream, upstream_tool):
    token = get_token(gateway, upstream_tool)
    response = requests.get(
        gateway + "/proxy/echo/redirect",
        headers={"Authorization": f"Bearer {token}"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    assert [r["path"] for r in upstream.requests] == ["/api/redirect"]


def test_hop_by_hop_headers_are_dropped_both_ways(gateway, upstream, upstream_tool):
    token = get_token(gateway, upstream_tool)
    response = requests.get(
        gateway + "/proxy/echo/hop",
        headers={
            "Authorization": f"Bearer {token}",
            "Connection": "keep-alive, X-App-Hop",
            "X-App-Hop": "private",
            "Proxy-Authorization": "Basic eA==",
            "X-Purpose": "analytics",  # the gateway's own signal, not the vendor's
            "X-App-Header": "kept",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["X-Vendor"] == "kept"
    assert "X-Hop-Secret" not in response.headers
    [received] = upstream.requests
    assert received["headers"]["x-app-header"] == "kept"
    for name in ("x-app-hop", "proxy-authorization", "x-purpose"):
        assert name not in received["headers"]


@pytest.mark.parametrize("upstream_read_timeout", [1.0])  # the vendor answers after 3 s
def test_slow_vendor_gives_504_and_unreachable_vendor_502(app, gateway, upstream, upstream_tool):
    token = get_token(gateway, upstream_tool)
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.get(gateway + "/proxy/echo/slow", headers=headers, timeout=10)
    assert_problem(response, 504, "upstream-timeout")
    assert response.headers["Gatehouse-Decision"] == "allow"

    apply(app, echo_document("http://127.0.0.1:9"))  # the discard port: nothing listens
    response = requests.get(gateway + "/proxy/echo/x", headers=headers, timeout=10)
    assert_problem(response, 502, "upstream-unreachable")
    settled(app)
    outcomes = [(r.status, r.error, r.outcome.value, r.retries) for r in records(app)]
    assert outcomes == [  # only the connection that failed was tried again (twice)
        (504, "upstream-timeout", "completed", 0),
        (502, "upstream-unreachable", "completed", 2),
    ]


def test_every_response_has_a_request_id(gateway):
    for path in ("/healthz", "/readyz", "/nowhere", "/metrics"):
        response = requests.get(gateway + path, timeout=10)
        assert len(response.headers["X-Request-Id"]) == 32
    response = requests.get(gateway + "/nowhere", timeout=10)
    assert_problem(response, 404, "not-found")


def test_the_log_holds_operation_purpose_categories_and_subject_keys(app, gateway, sandbox, demo):
    token = get_token(gateway, demo)
    body = {
        "members": [
            {"email_address": "Ada@Example.com", "status": "subscribed"},
            {"email_address": "alan@example.com", "status": "subscribed"},
        ]
    }
    response = requests.post(
        gateway + "/proxy/mailchimp/lists/a1b2c3d4e5",
        json=body,
        headers={
            "Authorization": f"Bearer {token}",
            "X-Purpose": "marketing.communications.email",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    [record] = records(app)
    assert (record.operation, record.purpose) == (
        "batch_subscribe",
        "marketing.communications.email",
    )
    assert record.data_categories == ["user.contact.email"]
    assert record.subject_count == 2
    with app.app_context():
        keys = db.session.scalars(select(ExchangeSubject.subject_key)).all()
    assert sorted(keys) == sorted(
        subject_key(b"test-pepper", "email", email)
        for email in ("ada@example.com", "alan@example.com")
    )
    assert "ada@example.com" not in str(record.__dict__).lower()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "slug"),
    [
        (
            "GET",
            "ping",
            {"data": b"{}", "headers": {"Content-Type": "application/json"}},
            422,
            "unexpected-body",
        ),
        (
            "POST",
            "lists/a1b2c3d4e5/members",
            {"data": b"email=a", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "lists/a1b2c3d4e5/members",
            {"data": b"{oops", "headers": {"Content-Type": "application/json"}},
            422,
            "invalid-body",
        ),
        ("GET", "ping", {"headers": {"X-Purpose": "world.domination"}}, 400, "invalid-purpose"),
        ("GET", "lists/a1b2c3d4e5/members", {"params": {"count": "lots"}}, 422, "invalid-body"),
    ],
)
def test_bad_requests_are_refused_before_the_vendor(
    app, gateway, sandbox, demo, method, path, kwargs, status, slug
):
    token = get_token(gateway, demo)
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    response = requests.request(
        method, f"{gateway}/proxy/mailchimp/{path}", headers=headers, timeout=10, **kwargs
    )
    assert_problem(response, status, slug)
    assert sandbox_requests(sandbox) == []
    [record] = records(app)
    assert (record.decision, record.status) == ("deny", status)


def test_metrics_show_how_the_log_writer_uses_the_chain_lock(gateway, demo_token):
    """Operators see how many entries each commit carried and how long the lock that
    every instance shares was held and waited for: what bounds the log's throughput."""

    def writer_figures() -> dict[str, float]:
        text = requests.get(gateway + "/metrics", timeout=10).text
        wanted = (
            "gatehouse_audit_batch_entries_count",
            "gatehouse_audit_batch_entries_sum",
            "gatehouse_audit_chain_lock_held_seconds_sum",
            "gatehouse_audit_chain_lock_wait_seconds_count",
        )
        lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith(wanted))
        return {name: float(lines.get(name, 0)) for name in wanted}

    before = writer_figures()
    headers = {"Authorization": f"Bearer {demo_token}"}
    response = requests.get(gateway + "/proxy/mailchimp/ping", headers=headers, timeout=10)
    assert response.status_code == 200
    # The completion is handed to the writer, not awaited: it is written soon after.
    deadline = time.monotonic() + 5
    while True:
        after = writer_figures()
        done = (
            after["gatehouse_audit_batch_entries_count"]
            - before["gatehouse_audit_batch_entries_count"]
        )
        if done >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    grew = {name: after[name] - before[name] for name in before}
    # the record before forwarding and its completion after: two batches of one
    assert grew["gatehouse_audit_batch_entries_count"] == 2
    assert grew["gatehouse_audit_batch_entries_sum"] == 2
    assert grew["gatehouse_audit_chain_lock_wait_seconds_count"] == 2
    assert 0 < grew["gatehouse_audit_chain_lock_held_seconds_sum"] < 10

"""A failed vendor call is tried again when that is safe, and never past its deadline.

The vendor is the sandbox (``connectors.sandbox``) failing on command through
``/_sandbox/faults``; what it received is read from ``/_sandbox/requests``. A vendor that
breaks the connection is a raw socket (``tests.raw_vendor``). The gateway serves on
loopback with a deadline of 3 s and a backoff of 0.05 s.
"""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client import REGISTRY

from tests.conftest import (
    SANDBOX_MAILCHIMP_KEY,
    apply,
    demo_document,
    get_token,
    grant_consent,
    sandbox_requests,
)
from tests.raw_vendor import RawVendor, head, send_then
from tests.test_proxy import MEMBER, MEMBERS_PATH, assert_problem, echo_document, records

DEADLINE = 3.0
PING = "/proxy/mailchimp/ping"
#: An operation on POST that the Mailchimp connector marks idempotent.
ERASE = "/proxy/mailchimp/lists/a1b2c3d4e5/members/0123abcd/actions/delete-permanent"


@pytest.fixture
def config(config):
    return config.with_overrides(upstream_deadline=DEADLINE, upstream_backoff=0.05)


@pytest.fixture
def headers(app, gateway, sandbox) -> dict:
    """The demo catalog, its grant also allowing erasure (a legal obligation)."""
    document = demo_document(sandbox)
    document["grants"][0]["purposes"].append("essential.legal_obligation")
    report = apply(app, document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    grant_consent(app, "marketing.communications.email", "ada@example.com")
    return {"Authorization": f"Bearer {get_token(gateway, report.new_clients[0])}"}


def fail(sandbox: str, status: int, times: int, **fault) -> None:
    armed = requests.post(
        f"{sandbox}/_sandbox/faults",
        json={"vendor": "mailchimp", "status": status, "times": times, **fault},
        timeout=10,
    )
    assert armed.status_code == 201, armed.text


def received(sandbox: str) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sandbox_requests(sandbox)]


def retries_counted() -> float:
    sample = {"tool": "mailchimp"}
    return REGISTRY.get_sample_value("gatehouse_upstream_retries_total", sample) or 0.0


def test_a_get_answered_503_is_tried_again_and_the_record_says_so(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=1)
    before = retries_counted()
    response = requests.get(gateway + PING, headers=headers, timeout=30)
    assert response.status_code == 200
    assert response.json() == {"health_status": "Everything's Chimpy!"}
    assert received(sandbox) == ["GET /mailchimp/3.0/ping"] * 2
    [record] = records(app)
    assert (record.status, record.upstream_status, record.retries) == (200, 200, 1)
    assert retries_counted() == before + 1


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_of_the_vendor_is_tried_again(app, gateway, sandbox, headers, status):
    fail(sandbox, status, times=2)
    response = requests.get(gateway + PING, headers=headers, timeout=30)
    assert response.status_code == 200
    assert len(received(sandbox)) == 3
    assert records(app)[0].retries == 2


def test_retries_used_up_give_the_vendors_last_answer(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=5)  # the default: two retries
    response = requests.get(gateway + PING, headers=headers, timeout=30)
    assert response.status_code == 503
    assert response.json()["title"] == "Service Unavailable"  # the vendor's own
    assert len(received(sandbox)) == 3
    [record] = records(app)
    assert (record.upstream_status, record.retries) == (503, 2)


def test_a_post_answered_503_is_not_sent_again(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=1)
    response = requests.post(gateway + MEMBERS_PATH, json=MEMBER, headers=headers, timeout=30)
    assert response.status_code == 503
    assert received(sandbox) == ["POST /mailchimp/3.0/lists/a1b2c3d4e5/members"]
    [record] = records(app)
    assert (record.upstream_status, record.retries) == (503, 0)


def test_a_post_the_connector_marks_idempotent_is_tried_again(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=1)
    response = requests.post(gateway + ERASE, headers=headers, timeout=30)
    assert response.status_code == 404, response.text  # no such member: the second answer
    assert len(received(sandbox)) == 2
    assert records(app)[0].retries == 1


def test_a_429_is_never_tried_again(app, gateway, sandbox, headers):
    fail(sandbox, 429, times=1, retry_after=1)
    response = requests.get(gateway + PING, headers=headers, timeout=30)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert len(received(sandbox)) == 1
    assert records(app)[0].retries == 0


def test_a_retry_after_within_the_deadline_is_waited(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=1, retry_after=1)
    started = time.monotonic()
    response = requests.get(gateway + PING, headers=headers, timeout=30)
    assert response.status_code == 200  # within the deadline, or it would be a 504
    assert time.monotonic() - started >= 1.0  # the Retry-After was waited
    assert records(app)[0].retries == 1


def test_a_retry_after_past_the_deadline_is_not_waited(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=1, retry_after=int(DEADLINE) + 2)
    started = time.monotonic()
    response = requests.get(gateway + PING, headers=headers, timeout=30)
    assert time.monotonic() - started < DEADLINE  # a wait would last to the deadline
    assert response.status_code == 503  # the vendor's answer, with its Retry-After
    assert response.headers["Retry-After"] == str(int(DEADLINE) + 2)
    assert len(received(sandbox)) == 1
    [record] = records(app)
    assert (record.upstream_status, record.retries) == (503, 0)


def test_a_refused_connection_is_tried_again_even_for_a_post(app, gateway, headers):
    apply(app, demo_document("http://127.0.0.1:9"), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    before = retries_counted()
    response = requests.post(gateway + MEMBERS_PATH, json=MEMBER, headers=headers, timeout=30)
    assert_problem(response, 502, "upstream-unreachable")
    [record] = records(app)
    assert (record.error, record.retries) == ("upstream-unreachable", 2)
    assert retries_counted() == before + 2


@pytest.mark.parametrize("upstream_read_timeout", [1.0])
def test_a_slow_vendor_is_not_asked_twice(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=1, delay=1.5)  # the read timeout is 1 s
    response = requests.get(gateway + PING, headers=headers, timeout=30)
    assert_problem(response, 504, "upstream-timeout")
    assert len(received(sandbox)) == 1
    assert records(app)[0].retries == 0


def reset_once() -> tuple[RawVendor, list[str]]:
    """A vendor that drops the first connection without answering, then answers 200."""
    dropped: list[str] = []

    def script(connection) -> None:
        if not dropped:
            dropped.append("once")
            send_then(b"", "reset")(connection)
        else:
            connection.sendall(head("200 OK", "Content-Length: 2") + b"ok")

    return RawVendor(script), dropped


@pytest.mark.parametrize(
    ("method", "status", "tries", "retries"),
    [("GET", 200, 2, 1), ("POST", 502, 1, 0)],
    ids=["get-again", "post-not"],
)
def test_a_connection_broken_after_sending_is_tried_again_only_if_idempotent(
    app, gateway, method, status, tries, retries
):
    vendor, _ = reset_once()
    document = echo_document(vendor.url)
    document["tools"][0]["spec"]["operations"].append(
        {"id": "post_x", "method": "POST", "path": "/x", "default_purpose": "analytics"}
    )
    token = get_token(gateway, apply(app, document).new_clients[0])
    try:
        response = requests.request(
            method,
            f"{gateway}/proxy/echo/x",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    finally:
        vendor.stop()
    assert response.status_code == status, response.text
    assert len(vendor.requests) == tries
    [record] = records(app)
    assert record.retries == retries
    if status == 502:
        assert record.error == "upstream-bad-response"


def test_a_retry_after_that_cannot_be_read_is_backed_off_instead(app, gateway):
    # The raw vendor answers once per connection, and says so: a connection reused after
    # it hung up would be one more retry, by chance of timing.
    answers = [
        head(
            "503 Service Unavailable", "Retry-After: soon", "Content-Length: 0", "Connection: close"
        )
    ]

    def script(connection) -> None:
        ok = head("200 OK", "Content-Length: 2") + b"ok"
        connection.sendall(answers.pop() if answers else ok)

    vendor = RawVendor(script)
    token = get_token(gateway, apply(app, echo_document(vendor.url)).new_clients[0])
    try:
        response = requests.get(
            f"{gateway}/proxy/echo/x", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
    finally:
        vendor.stop()
    assert (response.status_code, response.text) == (200, "ok")
    assert len(vendor.requests) == 2
    assert records(app)[0].retries == 1

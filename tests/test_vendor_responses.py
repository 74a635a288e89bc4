"""Vendors that misbehave: every failure is a 502 or 504 problem and a completed record.

The vendors here are raw sockets on loopback (``tests.raw_vendor``) that trickle, stall,
reset, lie about their length, send garbage or too much. The gateway's deadline for a
whole answer is 1.5 s, its size cap 64 KiB.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import apply, get_token
from tests.raw_vendor import RawVendor, chunked_without_end, head, send_then, trickle
from tests.test_proxy import assert_problem, echo_document, records

DEADLINE = 1.5
#: The answer comes by then if the deadline cut the call, with room for a loaded machine;
#: each trickle here would last 8 s or more.
CUT_BY = DEADLINE + 3.5
MAX_RESPONSE_BYTES = 64 * 1024


@pytest.fixture
def config(config):
    return config.with_overrides(
        upstream_deadline=DEADLINE, upstream_max_response_bytes=MAX_RESPONSE_BYTES
    )


@pytest.fixture
def call_vendor(app, gateway) -> Iterator:
    """Points the echo tool at a raw vendor running ``script``; calls it through the gateway."""
    vendors: list[RawVendor] = []

    def call(script) -> tuple[requests.Response, RawVendor]:
        vendor = RawVendor(script)
        vendors.append(vendor)
        token = get_token(gateway, apply(app, echo_document(vendor.url)).new_clients[0])
        response = requests.get(
            f"{gateway}/proxy/echo/x", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        return response, vendor

    yield call
    for vendor in vendors:
        vendor.stop()


def outcome(app) -> tuple:
    [record] = records(app)
    return record.outcome.value, record.status, record.error


def test_a_trickling_body_is_cut_at_the_deadline(app, call_vendor):
    body = b"x" * 40  # 8 s at a byte every 0.2 s; each read alone is quick
    response, vendor = call_vendor(
        trickle(head("200 OK", f"Content-Length: {len(body)}") + body, every=0.2)
    )
    answered = time.monotonic()

    assert_problem(response, 504, "upstream-timeout")
    assert response.elapsed.total_seconds() < CUT_BY  # the call, not the setup
    assert outcome(app) == ("completed", 504, "upstream-timeout")
    time.sleep(0.5)  # the vendor notices on its next write
    assert vendor.hung_up_at and vendor.hung_up_at[0] < answered + 0.5, "connection closed"


def test_a_trickling_head_is_cut_at_the_deadline(app, call_vendor):
    headers = head("200 OK", "X-Slow: " + "y" * 40, "Content-Length: 0")
    response, _ = call_vendor(trickle(headers, every=0.2))

    assert_problem(response, 504, "upstream-timeout")
    assert response.elapsed.total_seconds() < CUT_BY
    assert outcome(app) == ("completed", 504, "upstream-timeout")


def test_a_body_that_ends_with_the_connection_is_cut_at_the_deadline(app, call_vendor):
    # No length given: the body ends when the vendor closes, so a cut one looks whole.
    response, _ = call_vendor(trickle(head("200 OK") + b"z" * 40, every=0.2))

    assert_problem(response, 504, "upstream-timeout")
    assert outcome(app) == ("completed", 504, "upstream-timeout")


def test_a_stalled_body_is_a_504(app, call_vendor):
    response, _ = call_vendor(send_then(head("200 OK", "Content-Length: 100") + b"abc", "stall"))

    assert_problem(response, 504, "upstream-timeout")
    assert outcome(app) == ("completed", 504, "upstream-timeout")


@pytest.mark.parametrize(
    "script",
    [
        send_then(head("200 OK", "Content-Length: 1000") + b"only ten b", "reset"),
        send_then(head("200 OK", "Content-Length: 1000") + b"only ten b", "close"),
        send_then(b"GARBAGE NOT HTTP\r\n\r\n", "close"),
        send_then(head("200 OK", "Transfer-Encoding: chunked") + b"zz\r\nnot hex\r\n", "close"),
        send_then(b"", "reset"),
    ],
    ids=["reset-mid-body", "shorter-than-said", "garbage-status-line", "bad-chunk", "reset"],
)
def test_a_broken_answer_is_a_502_and_a_completed_record(app, call_vendor, script):
    response, _ = call_vendor(script)

    assert_problem(response, 502, "upstream-bad-response")
    assert response.headers["Gatehouse-Decision"] == "allow"
    assert outcome(app) == ("completed", 502, "upstream-bad-response")


def test_an_answer_declared_too_large_is_refused_without_reading_it(app, call_vendor):
    response, _ = call_vendor(
        send_then(head("200 OK", f"Content-Length: {MAX_RESPONSE_BYTES + 1}"), "stall")
    )

    assert_problem(response, 502, "upstream-response-too-large")
    assert outcome(app) == ("completed", 502, "upstream-response-too-large")


def test_a_not_modified_answer_is_not_judged_by_the_length_it_announces(app, call_vendor):
    # A 304's Content-Length is that of the representation the app already holds.
    response, _ = call_vendor(
        send_then(head("304 Not Modified", f"Content-Length: {MAX_RESPONSE_BYTES * 10}"), "stall")
    )

    assert response.status_code == 304
    assert outcome(app) == ("completed", 304, None)


def test_an_answer_growing_too_large_is_cut(app, call_vendor):
    # 16 MiB: more than the socket buffers hold, so the vendor sees the gateway hang up.
    response, vendor = call_vendor(chunked_without_end(b"w" * 64 * 1024, count=256))

    assert_problem(response, 502, "upstream-response-too-large")
    assert outcome(app) == ("completed", 502, "upstream-response-too-large")
    time.sleep(0.5)
    assert vendor.hung_up_at, "the connection was closed, not read to its end"


def test_an_answer_within_the_cap_passes_whole(app, call_vendor):
    response, _ = call_vendor(chunked_without_end(b"v" * 1024, count=60))

    assert response.status_code == 200
    assert response.content == b"v" * 60 * 1024
    assert outcome(app) == ("completed", 200, None)


def test_cookies_and_hop_by_hop_headers_never_reach_the_app(app, call_vendor):
    response, _ = call_vendor(
        send_then(
            head(
                "200 OK",
                "Set-Cookie: vendor_session=secret; Path=/",
                "Set-Cookie2: old=style",
                "Keep-Alive: timeout=5",
                "Connection: close",
                "X-Vendor: kept",
                "Content-Length: 2",
            )
            + b"ok",
            "close",
        )
    )

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response.headers["X-Vendor"] == "kept"
    for name in ("Set-Cookie", "Set-Cookie2", "Keep-Alive"):
        assert name not in response.headers
    assert response.cookies.get_dict() == {}


def test_a_header_holding_a_control_character_never_reaches_the_app(app, call_vendor):
    answer = b"HTTP/1.1 200 OK\r\nX-Split: a\x00b\r\nX-Vendor: kept\r\nContent-Length: 2\r\n\r\nok"
    response, _ = call_vendor(send_then(answer, "close"))

    assert response.status_code == 200
    assert response.headers["X-Vendor"] == "kept"
    assert "X-Split" not in response.headers


@pytest.mark.parametrize("status", ["101 Switching Protocols", "600 Beyond", "999 Weird"])
def test_a_status_that_is_no_final_http_status_is_a_502(app, call_vendor, status):
    upgrade = ("Upgrade: websocket", "Connection: Upgrade") if status.startswith("101") else ()
    response, _ = call_vendor(send_then(head(status, *upgrade, "Content-Length: 0"), "close"))

    assert_problem(response, 502, "upstream-bad-response")
    assert outcome(app) == ("completed", 502, "upstream-bad-response")


def test_a_trickling_token_endpoint_is_cut_at_the_deadline(app, gateway):
    token_body = b'{"access_token": "t", "token_type": "bearer", "expires_in": 3600}'
    vendor = RawVendor(
        trickle(head("200 OK", f"Content-Length: {len(token_body)}") + token_body, every=0.2)
    )
    document = echo_document(vendor.url)
    document["tools"][0]["spec"]["credentials"] = {
        "id": {"description": "client id"},
        "secret": {"description": "client secret"},
    }
    document["tools"][0]["spec"]["auth"] = {
        "type": "oauth2_client_credentials",
        "token_url": "/oauth/token",
        "client_id": "{id}",
        "client_secret": "{secret}",
    }
    document["tools"][0]["credentials"] = {"id": "client", "secret": "secret"}
    token = get_token(gateway, apply(app, document).new_clients[0])
    started = time.monotonic()

    response = requests.get(
        f"{gateway}/proxy/echo/x", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    vendor.stop()

    problem = assert_problem(response, 502, "vendor-auth-failed")
    assert time.monotonic() - started < CUT_BY
    assert "127.0.0.1" not in problem["detail"], "no internal address in the app's answer"
    assert len(vendor.requests) == 1, "no data call without a token"

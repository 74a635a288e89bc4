"""Building vendor URLs and filtering headers, as pure functions."""

from __future__ import annotations

import pytest

from gateway.upstream import (
    UnsafePath,
    forwarded_request_headers,
    returned_response_headers,
    upstream_url,
)

BASE = "https://us21.api.mailchimp.com/3.0"


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("lists/abc/members", "", f"{BASE}/lists/abc/members"),
        ("lists/abc/members", "count=10&offset=5", f"{BASE}/lists/abc/members?count=10&offset=5"),
        ("", "", f"{BASE}/"),
        ("search members/x y", "", f"{BASE}/search%20members/x%20y"),
        ("a/100%/b", "", f"{BASE}/a/100%25/b"),
        ("a/%2e%2e", "", f"{BASE}/a/%252e%252e"),
    ],
)
def test_safe_paths_stay_below_the_base(path, query, expected):
    assert upstream_url(BASE, path, query, {}) == expected


@pytest.mark.parametrize(
    "path",
    [
        "..",
        "a/../../b",
        "./a",
        "a/./b",
        "/etc/passwd",
        "//evil.example/x",
        "http://evil/x",
        "javascript:alert(1)",
        "a\\..\\b",
        "a\nb",
        "a\x00b",
        "a/..;/b",
        "a/.;jsessionid=1/b",
    ],
)
def test_escaping_paths_are_refused(path):
    with pytest.raises(UnsafePath):
        upstream_url(BASE, path, "", {})


def test_auth_query_parameters_replace_any_sent_by_the_app():
    url = upstream_url(BASE, "x", "api_key=app-guess&limit=5", {"api_key": "vendor-secret"})
    assert url == f"{BASE}/x?limit=5&api_key=vendor-secret"


def test_request_headers_lose_credentials_hop_by_hop_and_gateway_signals():
    headers = forwarded_request_headers(
        {
            "Host": "gateway",
            "Authorization": "Bearer app",
            "Cookie": "a=b",
            "Connection": "keep-alive, X-Private",
            "X-Private": "1",
            "Keep-Alive": "300",
            "Transfer-Encoding": "chunked",
            "X-Purpose": "marketing.communications.email",
            "X-TCF-Consent": "CP...",
            "Content-Type": "application/json",
            "Sec-GPC": "1",
        }
    )
    assert headers == {"Content-Type": "application/json", "Sec-GPC": "1"}


def test_response_headers_lose_hop_by_hop_and_our_own():
    kept = returned_response_headers(
        {
            "Content-Type": "application/json",
            "Content-Length": "10",
            "Connection": "close",
            "X-Request-Id": "vendor-id",
            "Gatehouse-Decision": "allow",
            "Content-Encoding": "gzip",
        }
    )
    assert kept == [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]


def test_request_headers_lose_overrides_rewrites_and_forwarding_claims():
    headers = forwarded_request_headers(
        {
            "X-HTTP-Method-Override": "DELETE",
            "x-method-override": "PUT",
            "X-Original-URL": "/admin",
            "X-Rewrite-URL": "/admin",
            "X-Forwarded-For": "10.0.0.1",
            "X-Forwarded-Anything-New": "1",
            "Forwarded": "for=10.0.0.1",
            "X-Real-IP": "10.0.0.1",
            "X-Forwarding-Note": "not a forwarding header, kept",
            "Accept": "application/json",
        }
    )
    assert headers == {
        "X-Forwarding-Note": "not a forwarding header, kept",
        "Accept": "application/json",
    }


def test_response_headers_lose_cookies():
    kept = returned_response_headers(
        {"Set-Cookie": "session=vendor", "SET-COOKIE2": "old=style", "X-Vendor": "kept"}
    )
    assert kept == [("X-Vendor", "kept")]

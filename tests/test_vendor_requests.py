"""A call cannot change meaning at the vendor: what policy allowed is what the vendor sees.

Method-override and URL-rewrite headers would let an app send a DELETE that policy saw
as a GET, or a path it never checked; the app's X-Forwarded-* / Forwarded / X-Real-IP
would let it speak for the gateway about where the call comes from. The recording
upstream (tests/upstream.py) shows what really arrives.
"""

from __future__ import annotations

import requests

from tests.conftest import apply, get_token
from tests.test_proxy import echo_document

MEANING_CHANGING = {
    "X-HTTP-Method-Override": "DELETE",
    "X-HTTP-Method": "DELETE",
    "X-Method-Override": "DELETE",
    "X-Original-Method": "DELETE",
    "X-Original-URL": "/admin/delete-everything",
    "X-Original-URI": "/admin",
    "X-Rewrite-URL": "/admin",
    "X-Override-URL": "/admin",
    "X-Original-Host": "internal.example",
    "X-Host": "internal.example",
    "X-Forwarded-For": "10.0.0.1",
    "X-Forwarded-Host": "internal.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Prefix": "/admin",
    "X-Forwarded-Server": "internal",
    "Forwarded": "for=10.0.0.1;host=internal.example",
    "X-Real-IP": "10.0.0.1",
    "X-Client-IP": "10.0.0.1",
    "True-Client-IP": "10.0.0.1",
    "Client-IP": "10.0.0.1",
    "X-Cluster-Client-IP": "10.0.0.1",
}


def test_override_rewrite_and_forwarding_headers_do_not_reach_the_vendor(app, gateway, upstream):
    client = apply(app, echo_document(upstream.url + "/api")).new_clients[0]
    token = get_token(gateway, client)

    response = requests.get(
        f"{gateway}/proxy/echo/x",
        headers={"Authorization": f"Bearer {token}", "X-App-Header": "kept", **MEANING_CHANGING},
        timeout=10,
    )

    assert response.status_code == 200, response.text
    [received] = upstream.requests
    assert (received["method"], received["path"]) == ("GET", "/api/x")
    assert received["headers"]["x-app-header"] == "kept"
    arrived = sorted(set(received["headers"]) & {name.lower() for name in MEANING_CHANGING})
    assert arrived == []

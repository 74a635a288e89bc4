"""Salesforce through the gateway: one vendor token, fetched by OAuth client credentials.

The app never holds a Salesforce credential. The gateway posts the tool's consumer key
and secret to the org's token endpoint, keeps the token it gets, and presents it on every
call; a secret the org refuses is a problem for the app, and no data call is made.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import requests

from connectors.sandbox.vendors import salesforce as sandbox_salesforce
from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog

TOKEN_PATH = "/salesforce/services/oauth2/token"
DATA_PATH = "/salesforce/services/data/v60.0/"


def app_token(app, gateway: str, sandbox: str, client_secret: str | None = None) -> str:
    document = catalog("salesforce", sandbox)
    if client_secret is not None:
        document["tools"][0]["credentials"]["client_secret"] = client_secret
    return get_token(gateway, apply(app, document).new_clients[0])


def proxy(gateway: str, token: str, method: str, path: str, body=None) -> requests.Response:
    return requests.request(
        method,
        f"{gateway}/proxy/salesforce/{path}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=10,
    )


def test_two_calls_fetch_one_vendor_token(app, gateway, sandbox):
    token = app_token(app, gateway, sandbox)

    created = proxy(gateway, token, "POST", "sobjects/Contact", {"LastName": "Lovelace"})
    fetched = proxy(gateway, token, "GET", f"sobjects/Contact/{created.json()['id']}")

    assert created.status_code == 201, created.text
    assert fetched.json()["LastName"] == "Lovelace"
    received = sandbox_requests(sandbox)
    token_requests = [r for r in received if r["path"] == TOKEN_PATH]
    assert len(token_requests) == 1, "the second call reuses the token"
    assert received[0] == token_requests[0], "the token is fetched before the first call"
    form = parse_qs(token_requests[0]["body"])
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [sandbox_salesforce.CREDENTIALS["client_id"]]
    assert form["client_secret"] == [sandbox_salesforce.CREDENTIALS["client_secret"]]
    data_calls = [r for r in received if r["path"].startswith(DATA_PATH)]
    presented = {r["headers"]["Authorization"] for r in data_calls}
    assert len(data_calls) == 2 and len(presented) == 1, "both calls carry the same token"
    assert presented.pop().startswith(f"Bearer {sandbox_salesforce.ORG_ID}!")


def test_a_refused_client_secret_is_a_502_and_no_data_call(app, gateway, sandbox):
    token = app_token(app, gateway, sandbox, client_secret="not-the-consumer-secret")

    response = proxy(gateway, token, "POST", "sobjects/Contact", {"LastName": "Lovelace"})

    assert response.status_code == 502, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Gatehouse-Decision"] == "deny"
    problem = response.json()
    assert problem["type"].endswith("/vendor-auth-failed")
    assert problem["reasons"][0]["rule"] == "vendor_auth"
    assert [r["path"] for r in sandbox_requests(sandbox)] == [TOKEN_PATH]

"""What a client may ask of the authorization server, and how long a token may live."""

from __future__ import annotations

import secrets
import time

import pytest
import requests
from joserfc import jwt

from gateway.oauth.keys import ALGORITHM
from gateway.oauth.server import oauth_of
from gateway.oauth.tokens import ACCESS_TOKEN_TYPE
from tests.conftest import SANDBOX_MAILCHIMP_KEY, apply, demo_document, get_token
from tests.test_oauth import introspect
from tests.test_proxy import assert_problem


def ask_token(gateway: str, credentials, scope: str) -> requests.Response:
    return requests.post(
        f"{gateway}/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(credentials.client_id, credentials.client_secret),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("scope", "named"),
    [
        ("audit:read", "scope audit:read"),
        ("proxy audit:read", "scope audit:read"),
        ("proxy no-such-scope", "scopes the gateway does not know"),
        ("proxy \x00\xff", "scopes the gateway does not know"),
    ],
)
def test_a_scope_the_client_does_not_hold_is_refused_not_narrowed(gateway, demo, scope, named):
    body = assert_problem(ask_token(gateway, demo, scope), 400, "oauth-invalid-scope")
    assert body["error"] == "invalid_scope"
    assert f"does not hold the requested {named}" in body["detail"]


def test_a_scope_the_client_holds_is_granted(gateway, demo):
    response = ask_token(gateway, demo, "proxy")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "proxy"


@pytest.fixture
def auditing_app(app, sandbox, demo):
    """The demo app, also allowed to read the exchange log."""
    document = demo_document(sandbox)
    document["clients"][0]["scopes"] = ["proxy", "audit:read"]
    apply(app, document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    return demo


def sign_own_token(app, client_id: str, lifetime: int) -> str:
    """A token signed with the gateway's own key, living ``lifetime`` seconds."""
    config = app.extensions["gatehouse.config"]
    now = int(time.time())
    claims = {
        "iss": config.issuer,
        "aud": f"{config.issuer}/proxy",
        "sub": client_id,
        "client_id": client_id,
        "scope": "proxy audit:read",
        "jti": secrets.token_hex(16),
        "iat": now,
        "exp": now + lifetime,
    }
    with app.app_context():
        keys = oauth_of(app).keys.signing_set()
    header = {"alg": ALGORITHM, "typ": ACCESS_TOKEN_TYPE, "kid": keys.keys[0].kid}
    return jwt.encode(header, claims, keys)


def use(gateway: str, token: str) -> tuple[int, int]:
    """The status of a proxied call and of an API call with this token."""
    headers = {"Authorization": f"Bearer {token}"}
    proxied = requests.get(f"{gateway}/proxy/mailchimp/ping", headers=headers, timeout=10)
    api = requests.get(f"{gateway}/api/v1/audit/queries", headers=headers, timeout=10)
    return proxied.status_code, api.status_code


def test_a_token_living_longer_than_the_configured_maximum_is_refused(
    app, gateway, auditing_app, config
):
    within = sign_own_token(app, auditing_app.client_id, config.token_ttl_seconds)
    assert use(gateway, within) == (200, 200)
    assert introspect(gateway, auditing_app, within)["active"] is True

    too_long = sign_own_token(app, auditing_app.client_id, config.token_ttl_seconds + 1)
    assert use(gateway, too_long) == (401, 401)
    assert introspect(gateway, auditing_app, too_long) == {"active": False}
    refused = requests.get(
        f"{gateway}/api/v1/audit/queries",
        headers={"Authorization": f"Bearer {too_long}"},
        timeout=10,
    )
    assert "lives longer" in assert_problem(refused, 401, "invalid-token")["detail"]


def test_tokens_the_gateway_issues_stay_within_the_maximum(gateway, auditing_app):
    token = get_token(gateway, auditing_app)
    assert introspect(gateway, auditing_app, token)["active"] is True

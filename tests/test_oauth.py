"""The authorization server over HTTP: tokens, revocation, introspection, key set."""

from __future__ import annotations

import time
from types import SimpleNamespace

import requests
from cryptography.fernet import Fernet
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import delete, select

from gateway.app import create_app
from gateway.audit.models import ExchangeRecord
from gateway.db import db
from gateway.oauth import tokens
from gateway.oauth.models import SigningKey
from tests.conftest import apply, close, demo_document, get_token, serve


def introspect(gateway: str, credentials, token: str) -> dict:
    response = requests.post(
        f"{gateway}/oauth/introspect",
        data={"token": token},
        auth=(credentials.client_id, credentials.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_token_by_basic_and_post_is_a_short_lived_rfc9068_jwt(gateway, demo, config):
    token = get_token(gateway, demo)
    response = requests.post(
        f"{gateway}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": demo.client_id,
            "client_secret": demo.client_secret,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == config.token_ttl_seconds
    assert body["scope"] == "proxy"

    keys = KeySet.import_key_set(requests.get(f"{gateway}/oauth/jwks.json", timeout=10).json())
    for issued in (token, body["access_token"]):
        decoded = jwt.decode(issued, keys, algorithms=["RS256"])
        assert decoded.header["typ"] == "at+jwt"
        claims = decoded.claims
        assert claims["client_id"] == claims["sub"] == demo.client_id
        assert claims["iss"] == config.issuer
        assert claims["aud"] == f"{config.issuer}/proxy"
        assert 0 < claims["exp"] - time.time() <= config.token_ttl_seconds


def test_wrong_secret_is_refused_with_problem_and_oauth_error(gateway, demo):
    response = requests.post(
        f"{gateway}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(demo.client_id, "wrong"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["status"] == 401
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_unsupported_grant_is_refused(gateway, demo):
    response = requests.post(
        f"{gateway}/oauth/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        auth=(demo.client_id, demo.client_secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_revoked_token_is_inactive_and_refused_by_the_proxy(app, gateway, demo):
    token = get_token(gateway, demo)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{gateway}/proxy/mailchimp/ping", headers=headers, timeout=10).ok
    assert introspect(gateway, demo, token)["active"] is True

    response = requests.post(
        f"{gateway}/oauth/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(demo.client_id, demo.client_secret),
        timeout=10,
    )
    assert response.status_code == 200
    assert introspect(gateway, demo, token) == {"active": False}

    response = requests.get(f"{gateway}/proxy/mailchimp/ping", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["reasons"][0]["message"] == "the access token has been revoked"
    assert response.headers["Gatehouse-Decision"] == "deny"
    with app.app_context():
        refused = db.session.scalar(
            select(ExchangeRecord).where(
                ExchangeRecord.request_id == response.headers["X-Request-Id"]
            )
        )
    assert (refused.status, refused.decision, refused.client_id) == (401, "deny", None)
    fresh = get_token(gateway, demo)
    assert requests.get(
        f"{gateway}/proxy/mailchimp/ping", headers={"Authorization": f"Bearer {fresh}"}, timeout=10
    ).ok


def test_a_verified_token_is_kept_yet_expiry_and_forgery_are_judged_each_call(
    app, gateway, demo, monkeypatch
):
    token = get_token(gateway, demo)
    verifier = app.extensions["gatehouse.oauth"].verifier
    assert requests.get(f"{gateway}/proxy/mailchimp/ping", headers=bearer(token), timeout=10).ok
    kept = verifier.read(token)
    assert verifier.read(token) is kept  # served from the per-process cache

    header, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    for forged in (
        f"{header}.{payload}.{flipped}{signature[1:]}",
        f"{header}.{payload}.{signature[::-1]}",
    ):
        response = requests.get(
            f"{gateway}/proxy/mailchimp/ping", headers=bearer(forged), timeout=10
        )
        assert response.status_code == 401
        assert "signature is invalid" in response.json()["reasons"][0]["message"]

    later = kept.expires_at + tokens.CLOCK_LEEWAY_SECONDS + 1
    monkeypatch.setattr(tokens, "time", SimpleNamespace(time=lambda: later))
    response = requests.get(f"{gateway}/proxy/mailchimp/ping", headers=bearer(token), timeout=10)
    assert response.status_code == 401
    assert response.json()["reasons"][0]["message"] == "the access token has expired"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_client_cannot_revoke_or_read_another_clients_token(app, gateway, sandbox, demo):
    document = demo_document(sandbox)
    document["clients"] = [{"name": "other-app", "department": "growth"}]
    other = apply(app, document, {"MC_KEY": "k"}).new_clients[0]
    token = get_token(gateway, demo)
    assert introspect(gateway, other, token) == {"active": False}
    response = requests.post(
        f"{gateway}/oauth/revoke",
        data={"token": token},
        auth=(other.client_id, other.client_secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert introspect(gateway, demo, token)["active"] is True


def test_garbage_token_introspects_inactive(gateway, demo):
    assert introspect(gateway, demo, "not-a-token") == {"active": False}


def test_metadata_document_names_the_endpoints(gateway, config):
    body = requests.get(f"{gateway}/.well-known/oauth-authorization-server", timeout=10).json()
    assert body["issuer"] == config.issuer
    assert body["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


def test_signing_key_lost_with_its_encryption_key_is_replaced(app, config, gateway, demo):
    get_token(gateway, demo)  # creates a signing key under the current encryption key
    rotated = config.with_overrides(encryption_keys=(Fernet.generate_key().decode(),))
    other_app = create_app(rotated)
    live = serve(other_app)
    try:
        token = get_token(live.url, demo)  # client secrets do not depend on the encryption key
        keys = KeySet.import_key_set(requests.get(f"{live.url}/oauth/jwks.json", timeout=10).json())
        claims = jwt.decode(token, keys)
        assert claims.header["typ"] == "at+jwt"
    finally:
        live.stop()
        with other_app.app_context():
            db.session.execute(delete(SigningKey))
            db.session.commit()
        close(other_app)

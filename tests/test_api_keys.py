"""API keys on the hot path: accepted from the in-memory snapshot wherever the connector
reads the app's token, refused at once when revoked or expired, never forwarded, logged
or recorded, and useless on the JSON API."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from gateway.audit.models import ExchangeRecord
from gateway.db import db, utcnow
from gateway.identity.actors import Actor
from gateway.log_redaction import REDACTED, Redactor
from gateway.oauth.api_keys import (
    InvalidApiKey,
    KeyView,
    NewKey,
    create_key,
    hash_key_secret,
    revoke_key,
    rotate_key,
)
from gateway.oauth.api_keys import verify_api_key as verify
from gateway.oauth.apps import remove_app
from gateway.oauth.models import ApiKey, Client
from tests.conftest import sandbox_requests

OPERATOR = Actor.for_operator("test")


def with_app(app, name: str, change):
    """Run ``change(session, client)`` on the app called ``name``, commit, return its result."""
    with app.app_context():
        client = db.session.scalar(select(Client).where(Client.name == name))
        result = change(db.session, client)
        db.session.commit()
        return result


def issue_key(app, app_name: str = "newsletter-app", **options) -> NewKey:
    return with_app(app, app_name, lambda s, c: create_key(s, OPERATOR, "test", c, **options))


def end_key(app, key_id: str) -> None:
    """Time passes: the key's expiry is now (changed as the ORM does, bumping the snapshot)."""
    with app.app_context():
        db.session.scalar(select(ApiKey).where(ApiKey.key_id == key_id)).expires_at = utcnow()
        db.session.commit()


def ping(gateway: str, **request) -> requests.Response:
    return requests.get(f"{gateway}/proxy/mailchimp/ping", timeout=10, **request)


def bearer(key: str) -> dict:
    return {"headers": {"Authorization": f"Bearer {key}"}}


def test_a_key_has_the_documented_shape_and_is_stored_hashed(app, demo):
    new = issue_key(app)
    prefix, key_id, secret = new.plaintext[:4], new.plaintext[4:16], new.plaintext[17:]
    assert (prefix, key_id, len(secret)) == ("ghk_", new.key.key_id, 43)
    with app.app_context():
        stored = db.session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
        assert secret not in stored.secret_hash and len(stored.secret_hash) == 64


def test_a_key_calls_the_tool_where_the_sdk_puts_its_own_key(app, gateway, demo, sandbox):
    key = issue_key(app).plaintext
    as_basic = base64.b64encode(f"anyuser:{key}".encode()).decode()
    for request in (bearer(key), {"headers": {"Authorization": f"Basic {as_basic}"}}):
        answer = ping(gateway, **request)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Gatehouse-Decision"] == "allow"
    received = sandbox_requests(sandbox)
    assert len(received) == 2
    assert all(key not in str(seen) and key[17:] not in str(seen) for seen in received)


def test_the_key_is_not_forwarded_logged_or_recorded(app, gateway, demo, sandbox, caplog):
    key = issue_key(app).plaintext
    caplog.set_level(logging.DEBUG)
    assert ping(gateway, **bearer(key)).status_code == 200
    assert ping(gateway, **bearer(key[:-1] + "x")).status_code == 401
    with app.app_context():
        records = db.session.scalars(select(ExchangeRecord)).all()
        assert len(records) == 2
        dumped = [str({c.name: getattr(r, c.name) for c in r.__table__.columns}) for r in records]
    secret = key[17:]
    assert all(secret not in text for text in dumped)
    assert secret not in caplog.text
    assert all(secret not in str(seen) for seen in sandbox_requests(sandbox))


@pytest.mark.parametrize(
    ("credential", "detail"),
    [
        ("ghk_short", "malformed"),
        ("ghk_" + "a" * 12 + "_" + "b" * 43, "not one this gateway issued"),
    ],
)
def test_a_malformed_or_unknown_key_is_401_without_echoing_it(gateway, demo, credential, detail):
    answer = ping(gateway, **bearer(credential))
    assert answer.status_code == 401
    assert detail in answer.json()["detail"]
    assert credential not in answer.text
    assert answer.headers["Gatehouse-Decision"] == "deny"


def test_a_revoked_key_is_refused_at_once(app, gateway, demo):
    new = issue_key(app)
    assert ping(gateway, **bearer(new.plaintext)).status_code == 200
    with_app(app, "newsletter-app", lambda s, c: revoke_key(s, OPERATOR, "t", c, new.key.key_id))
    refused = ping(gateway, **bearer(new.plaintext))
    assert refused.status_code == 401
    assert refused.json()["detail"] == f"the API key {new.key.key_id} has been revoked"
    assert new.plaintext[17:] not in refused.text


def test_a_rotated_key_works_until_its_overlap_ends(app, gateway, demo):
    old = issue_key(app, name="deploy")
    new = with_app(
        app,
        "newsletter-app",
        lambda s, c: rotate_key(s, OPERATOR, "t", c, old.key.key_id, timedelta(hours=2)),
    )
    assert ping(gateway, **bearer(old.plaintext)).status_code == 200
    assert ping(gateway, **bearer(new.plaintext)).status_code == 200
    with app.app_context():  # two hours pass
        ends = db.session.scalar(select(ApiKey.expires_at).where(ApiKey.key_id == old.key.key_id))
        assert timedelta(hours=1.9) < ends - utcnow() <= timedelta(hours=2)
    end_key(app, old.key.key_id)
    expired = ping(gateway, **bearer(old.plaintext))
    assert expired.status_code == 401
    assert expired.json()["detail"] == f"the API key {old.key.key_id} has expired"
    assert ping(gateway, **bearer(new.plaintext)).status_code == 200


def test_rotation_without_overlap_stops_the_old_key_now(app, gateway, demo):
    old = issue_key(app)
    with_app(
        app,
        "newsletter-app",
        lambda s, c: rotate_key(s, OPERATOR, "t", c, old.key.key_id, timedelta(0)),
    )
    assert ping(gateway, **bearer(old.plaintext)).status_code == 401


def test_a_key_given_an_expiry_stops_at_it(app, gateway, demo):
    new = issue_key(app, expires_at=utcnow() + timedelta(minutes=5))
    assert ping(gateway, **bearer(new.plaintext)).status_code == 200
    end_key(app, new.key.key_id)
    assert ping(gateway, **bearer(new.plaintext)).status_code == 401


def test_keys_of_a_removed_app_are_refused(app, gateway, demo):
    new = issue_key(app)
    with_app(app, "newsletter-app", lambda s, c: remove_app(s, OPERATOR, "t", c))
    refused = ping(gateway, **bearer(new.plaintext))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_a_key_does_not_open_the_json_api(app, gateway, demo):
    new = issue_key(app)
    answer = requests.get(f"{gateway}/api/v1/apps", timeout=10, **bearer(new.plaintext))
    assert answer.status_code == 401
    assert "proxy only" in answer.json()["detail"]
    assert new.plaintext not in answer.text


def test_verification_checks_secret_expiry_and_revocation_without_a_database():
    key_id, secret = "k" * 12, "s" * 43
    key = f"ghk_{key_id}_{secret}"
    view = KeyView(key_id, hash_key_secret(secret), "gh_app", expires_at=100.0, revoked=False)
    assert verify(key, {key_id: view}, now=99.0) is view
    for presented, keys, now, reason in [
        (key, {key_id: view}, 100.0, "expired"),
        (key, {key_id: replace(view, revoked=True)}, 0, "revoked"),
        (key[:-1] + "t", {key_id: view}, 0, "not one this gateway issued"),
        (key + "s", {key_id: view}, 0, "malformed"),
        (key.replace("_", "-", 1), {key_id: view}, 0, "malformed"),
    ]:
        with pytest.raises(InvalidApiKey, match=reason):
            verify(presented, keys, now)


def test_a_key_is_redacted_from_any_log_line_wherever_it_appears():
    key = "ghk_" + "k" * 12 + "_" + "s-_" * 14 + "s"
    line = f'POST /proxy/segment/v1/track {{"writeKey": "{key}"}} x-custom={key}'
    redacted = Redactor((), ()).text(line)
    assert "ghk_" not in redacted and "s-_s" not in redacted
    assert redacted.count(REDACTED) == 2

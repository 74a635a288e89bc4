"""Local sign-in, attacked: throttling per account and per address, cookie flags, CSRF,
open redirects, session fixation, and sessions that end when they must."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
import requests

from gateway.app import create_app
from gateway.db import db
from gateway.identity.actors import Actor
from gateway.identity.models import User
from gateway.identity.users import set_password
from tests.conftest import close, serve
from tests.people import csrf_token, make_user, signed_in

PASSWORD = "correct horse battery"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def _sign_in(client, email: str, password: str, address: str = "10.0.0.1", headers=None, **extra):
    token = csrf_token(client)
    return client.post(
        "/portal/sign-in",
        data={"csrf_token": token, "email": email, "password": password, **extra},
        headers=headers,
        environ_base={"REMOTE_ADDR": address},
    )


def _is_signed_in(client) -> bool:
    return client.get("/portal/").status_code == 200


def test_a_user_signs_in_with_the_email_in_any_case(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    client = app.test_client()
    answer = _sign_in(client, "  ADA@Example.com ", PASSWORD)
    assert answer.status_code == 302 and answer.location == "/portal/"
    assert _is_signed_in(client)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    wrong_password = _sign_in(app.test_client(), "ada@example.com", "not the password")
    unknown_account = _sign_in(app.test_client(), "nobody@example.com", PASSWORD)
    assert wrong_password.status_code == unknown_account.status_code == 401
    message = "do not match an active account"
    assert message in wrong_password.text and message in unknown_account.text


def test_an_account_is_throttled_after_five_failures_from_anywhere(app, monkeypatch):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    for attempt in range(5):
        answer = _sign_in(app.test_client(), "ada@example.com", "guess", f"10.0.1.{attempt}")
        assert answer.status_code == 401
    checked = []
    monkeypatch.setattr("gateway.portal.sign_in.authenticate", lambda *args: checked.append(args))
    client = app.test_client()
    refused = _sign_in(client, "ADA@example.com", PASSWORD, "10.0.1.99")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins" in refused.text and "Try again in 15 minutes" in refused.text
    assert checked == []  # the password was not even looked at
    assert not _is_signed_in(client)


def test_other_accounts_are_not_throttled_by_one_account_s_failures(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    make_user(app, "alan@example.com", "marketer", ("growth",), PASSWORD)
    for attempt in range(5):
        _sign_in(app.test_client(), "ada@example.com", "guess", f"10.0.2.{attempt}")
    assert _sign_in(app.test_client(), "alan@example.com", PASSWORD, "10.0.2.1").status_code == 302


def test_an_address_is_throttled_after_twenty_failures_on_any_accounts(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    for attempt in range(20):
        answer = _sign_in(app.test_client(), f"guess{attempt}@example.com", "guess", "10.0.3.1")
        assert answer.status_code == 401
    refused = _sign_in(app.test_client(), "ada@example.com", PASSWORD, "10.0.3.1")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    allowed = _sign_in(app.test_client(), "ada@example.com", PASSWORD, "10.0.3.2")
    assert allowed.status_code == 302


def _sign_in_behind(app, password: str, client_address: str) -> int:
    """A sign-in arriving from a load balancer (10.0.9.9) that names the client."""
    forwarded = {"X-Forwarded-For": client_address}
    answer = _sign_in(app.test_client(), "ada@example.com", password, "10.0.9.9", forwarded)
    return answer.status_code


@pytest.mark.parametrize("trusted", [0, 1])
def test_behind_a_trusted_load_balancer_addresses_are_the_clients(config, trusted):
    """With GATEHOUSE_TRUSTED_PROXIES=1 one client's failures throttle its address, not
    everyone behind the balancer; with 0, X-Forwarded-For is a client's claim and ignored."""
    app = create_app(
        config.with_overrides(trusted_proxies=trusted, sign_in_address_limit="3 per 15 minutes")
    )
    try:
        make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
        for _ in range(3):
            assert _sign_in_behind(app, "guess", "203.0.113.7") == 401
        assert _sign_in_behind(app, PASSWORD, "203.0.113.7") == 429
        expected = 302 if trusted else 429
        assert _sign_in_behind(app, PASSWORD, "198.51.100.4") == expected
    finally:
        close(app)


def test_a_success_forgives_the_account_s_earlier_failures(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    for attempt in range(4):
        _sign_in(app.test_client(), "ada@example.com", "guess", f"10.0.4.{attempt}")
    assert _sign_in(app.test_client(), "ada@example.com", PASSWORD).status_code == 302
    for attempt in range(4):
        answer = _sign_in(app.test_client(), "ada@example.com", "guess", f"10.0.5.{attempt}")
        assert answer.status_code == 401


def _set_cookie(gateway: str, email: str) -> str:
    page = requests.get(f"{gateway}/portal/sign-in", timeout=10)
    token = _CSRF_FIELD.search(page.text).group(1)
    answer = requests.post(  # the cookie sent back by hand: a Secure one would not be over http
        f"{gateway}/portal/sign-in",
        data={"csrf_token": token, "email": email, "password": PASSWORD},
        cookies={"gatehouse_session": page.cookies["gatehouse_session"]},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return answer.headers["Set-Cookie"]


def test_the_session_cookie_is_http_only_same_site_and_expires(app, gateway):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    cookie = _set_cookie(gateway, "ada@example.com")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("gatehouse_session=")
    assert {"httponly", "expires", "path"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain http on loopback: a Secure cookie would be lost
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    lifetime = (expires - datetime.now(UTC)).total_seconds()
    assert 8 * 3600 - 60 < lifetime <= 8 * 3600


@pytest.mark.parametrize(
    ("overrides", "secure"),
    [
        ({"issuer": "https://gatehouse.example.com"}, True),
        ({"session_cookie_secure": True}, True),
        ({"issuer": "https://gatehouse.example.com", "session_cookie_secure": False}, False),
    ],
)
def test_the_cookie_is_secure_when_the_gateway_is_served_over_https(config, overrides, secure):
    app = create_app(config.with_overrides(session_lifetime=600, **overrides))
    live = serve(app)
    try:
        make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
        cookie = _set_cookie(live.url, "ada@example.com")
    finally:
        live.stop()
        close(app)
    assert ("; Secure" in cookie) is secure
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert 540 < (expires - datetime.now(UTC)).total_seconds() <= 600


def test_a_sign_in_without_the_csrf_token_is_refused(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    client = app.test_client()
    client.get("/portal/sign-in")
    answer = client.post("/portal/sign-in", data={"email": "ada@example.com", "password": PASSWORD})
    assert answer.status_code == 400
    assert "Form expired or forged" in answer.text
    assert not _is_signed_in(client)


@pytest.mark.parametrize(
    "hostile",
    [
        "https://evil.example/portal/",
        "//evil.example/portal/",
        "///evil.example/portal/",
        "/\\evil.example",
        "\\\\evil.example",
        "/portal\\..\\..\\evil",
        "http:/evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/portal.evil.example",
        "/portalx",
        "/\t/evil.example",
        "/portal/\n//evil.example",
        "/portal/../..//evil.example",
        " //evil.example",
        "/api/v1/users",
        "evil.example",
    ],
)
def test_no_open_redirect_after_sign_in(app, hostile):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    answer = _sign_in(app.test_client(), "ada@example.com", PASSWORD, next=hostile)
    assert answer.status_code == 302
    assert answer.location == "/portal/"


def test_the_next_page_within_the_portal_is_kept(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    client = app.test_client()
    first = client.get("/portal/users?role=marketer")
    assert first.status_code == 302
    assert first.location == "/portal/sign-in?next=/portal/users?role%3Dmarketer"
    answer = _sign_in(client, "ada@example.com", PASSWORD, next="/portal/users?role=marketer")
    assert answer.location == "/portal/users?role=marketer"


def test_nothing_of_the_session_before_sign_in_survives_it(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    client = app.test_client()
    with client.session_transaction() as planted:  # as an attacker's fixed session would be
        planted["user_id"] = 999
        planted["planted"] = "by the attacker"
    _sign_in(client, "ada@example.com", PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["user_id"] != 999


def test_deactivation_ends_the_user_s_sessions(app):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    admin = signed_in(app, make_user(app, "root@example.com", "admin"))
    client = app.test_client()
    _sign_in(client, "ada@example.com", PASSWORD)
    assert _is_signed_in(client)
    answer = admin.patch(
        f"/api/v1/users/{user_id}",
        json={"active": False},
        headers={"X-CSRFToken": csrf_token(admin)},
    )
    assert answer.status_code == 200 and answer.json["active"] is False
    assert client.get("/portal/").status_code == 302
    assert _sign_in(app.test_client(), "ada@example.com", PASSWORD).status_code == 401


def test_a_password_change_ends_the_user_s_sessions(app):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    client = app.test_client()
    _sign_in(client, "ada@example.com", PASSWORD)
    assert _is_signed_in(client)
    with app.app_context():
        user = db.session.get(User, user_id)
        set_password(db.session, Actor.for_operator(), "test", user, "a brand new password")
        db.session.commit()
    assert client.get("/portal/").status_code == 302


def test_sign_out_ends_the_session(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    client = app.test_client()
    _sign_in(client, "ada@example.com", PASSWORD)
    answer = client.post("/portal/sign-out", data={"csrf_token": csrf_token(client)})
    assert answer.status_code == 302
    assert not _is_signed_in(client)


def test_a_user_without_password_cannot_sign_in_with_an_empty_one(app):
    with app.app_context():
        db.session.add(User(email="sso@example.com", role="marketer", password_hash=None))
        db.session.commit()
    assert _sign_in(app.test_client(), "sso@example.com", "").status_code == 401


def test_no_session_outlives_its_lifetime_from_sign_in_however_active(app):
    make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
    client = app.test_client()
    _sign_in(client, "ada@example.com", PASSWORD)
    assert _is_signed_in(client)  # each request slides the cookie's expiry...
    with client.session_transaction() as session:
        session["signed_in_at"] -= 8 * 3600 + 1
    assert not _is_signed_in(client)  # ...but not the end of the session

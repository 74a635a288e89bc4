"""Single sign-on against a real OpenID Provider (node-oidc-provider), over real HTTP to a
live gateway: code flow with PKCE, state and nonce; users found, linked or created from
their groups; refusals explained."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from catalog.history import ChangeEvent
from gateway.app import create_app
from gateway.config import OidcSettings
from gateway.db import db
from gateway.identity.models import User
from tests.conftest import apply, close
from tests.oidc import oidc_provider, sign_in_through_provider  # noqa: F401
from tests.people import csrf_token, make_user


@pytest.fixture
def config(config, oidc_provider):  # noqa: F811
    return config.with_overrides(oidc=oidc_provider.settings())


@pytest.fixture
def growth(app):
    apply(app, {"departments": [{"slug": "growth", "name": "Growth"}]})


def _user(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge_all()
        return user


def test_the_sign_in_page_offers_the_identity_provider(gateway):
    page = requests.get(f"{gateway}/portal/sign-in", timeout=10)
    assert "Sign in with Test IdP" in page.text


def test_a_marketer_signs_in_and_is_created_from_the_groups(app, gateway, growth, oidc_provider):  # noqa: F811
    answer = sign_in_through_provider(gateway, oidc_provider, "marketer")
    assert answer.status_code == 200
    assert answer.url == f"{gateway}/portal/"
    assert "mia.marketer@example.com" in answer.text
    user = _user(app, "mia.marketer@example.com")
    assert (user.role.value, user.oidc_issuer, user.oidc_subject) == (
        "marketer",
        oidc_provider.issuer,
        "marketer",
    )
    assert user.name == "Mia Marketer"
    with app.app_context():
        event = db.session.scalar(select(ChangeEvent).where(ChangeEvent.object_type == "user"))
        assert (event.action, event.actor_kind, event.source) == ("created", "idp", "oidc")
        assert event.after["departments"] == ["growth"]


def test_a_local_account_is_linked_and_its_role_follows_the_groups(app, gateway, oidc_provider):  # noqa: F811
    make_user(app, "rey.reviewer@example.com", "admin", password="a local password")
    answer = sign_in_through_provider(gateway, oidc_provider, "reviewer")
    assert answer.url == f"{gateway}/portal/"
    user = _user(app, "rey.reviewer@example.com")
    assert (user.role.value, user.oidc_subject) == ("it_reviewer", "reviewer")
    with app.app_context():
        event = db.session.scalar(select(ChangeEvent).where(ChangeEvent.object_type == "user"))
        assert event.before["role"] == "admin" and event.after["role"] == "it_reviewer"


def test_someone_in_no_mapped_group_is_refused_with_a_clear_page(app, gateway, oidc_provider):  # noqa: F811
    answer = sign_in_through_provider(gateway, oidc_provider, "outsider")
    assert answer.status_code == 403
    assert "no group that gives access" in answer.text
    assert _user(app, "otto.outsider@example.com") is None
    assert requests.get(f"{gateway}/portal/", timeout=10, allow_redirects=False).status_code == 302


def test_a_deactivated_user_is_refused(app, gateway, oidc_provider):  # noqa: F811
    user_id = make_user(app, "aude.auditor@example.com", "auditor")
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    answer = sign_in_through_provider(gateway, oidc_provider, "auditor")
    assert answer.status_code == 403
    assert "deactivated" in answer.text


def test_the_next_page_is_kept_within_the_portal_only(gateway, growth, oidc_provider):  # noqa: F811
    kept = sign_in_through_provider(gateway, oidc_provider, "marketer", next_page="/portal/?x=1")
    assert kept.url == f"{gateway}/portal/?x=1"
    hostile = sign_in_through_provider(
        gateway, oidc_provider, "marketer", next_page="https://evil.example/portal"
    )
    assert hostile.url == f"{gateway}/portal/"


def test_a_callback_with_a_forged_state_signs_nobody_in(gateway, oidc_provider):  # noqa: F811
    browser = requests.Session()
    answer = browser.get(
        f"{gateway}/portal/sign-in/oidc/callback",
        params={"code": "stolen", "state": "forged"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "could not be completed" in answer.text
    home = browser.get(f"{gateway}/portal/", timeout=10, allow_redirects=False)
    assert home.status_code == 302


def test_the_session_from_before_sign_in_is_not_kept(gateway, growth, oidc_provider):  # noqa: F811
    browser = requests.Session()
    browser.get(f"{gateway}/portal/sign-in", timeout=10)
    before = browser.cookies.get("gatehouse_session")
    sign_in_through_provider(gateway, oidc_provider, "marketer", browser=browser)
    after = browser.cookies.get("gatehouse_session")
    assert before and after and before != after


def test_an_unreachable_provider_is_explained(config):
    dead = OidcSettings("http://127.0.0.1:9", "gatehouse", "secret", roles={"g": "marketer"})
    app = create_app(config.with_overrides(oidc=dead))
    try:
        client = app.test_client()
        answer = client.post("/portal/sign-in/oidc", data={"csrf_token": csrf_token(client)})
    finally:
        close(app)
    assert answer.status_code == 502
    assert "cannot be reached" in answer.text


def test_without_single_sign_on_there_is_no_button_nor_route(config):
    app = create_app(config.with_overrides(oidc=None))
    try:
        client = app.test_client()
        assert "Sign in with" not in client.get("/portal/sign-in").text
        token = csrf_token(client)
        assert client.post("/portal/sign-in/oidc", data={"csrf_token": token}).status_code == 404
        assert client.get("/portal/sign-in/oidc/callback?code=x&state=y").status_code == 404
    finally:
        close(app)

"""The portal's door: sign-in, where it leads afterwards, CSRF, and sessions on the API."""

from __future__ import annotations

import pytest

from tests.people import csrf_token, make_user, signed_in


def test_a_visitor_is_sent_to_sign_in_and_brought_back(app):
    make_user(app, "it@example.com", "it_reviewer", password="correct horse")
    client = app.test_client()
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/sign-in?next=/portal/"
    token = csrf_token(client)
    response = client.post(
        "/portal/sign-in",
        data={
            "email": " IT@example.com",
            "password": "correct horse",
            "csrf_token": token,
            "next": "/portal/",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    assert "Sign out" in client.get("/portal/").get_data(as_text=True)


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/api/v1/x", ""]
)
def test_sign_in_never_leads_off_the_portal(app, target):
    make_user(app, "it@example.com", "it_reviewer", password="pw")
    client = app.test_client()
    response = client.post(
        "/portal/sign-in",
        data={
            "email": "it@example.com",
            "password": "pw",
            "csrf_token": csrf_token(client),
            "next": target,
        },
    )
    assert response.headers["Location"] == "/portal/"


def test_a_wrong_password_does_not_say_which_half_was_wrong(app):
    make_user(app, "it@example.com", "it_reviewer", password="pw")
    client = app.test_client()
    token = csrf_token(client)
    wrong = client.post(
        "/portal/sign-in", data={"email": "it@example.com", "password": "x", "csrf_token": token}
    )
    unknown = client.post(
        "/portal/sign-in", data={"email": "no@example.com", "password": "x", "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.get_data(as_text=True)


def test_a_form_without_the_csrf_token_is_refused(app):
    make_user(app, "it@example.com", "it_reviewer", password="pw")
    response = app.test_client().post(
        "/portal/sign-in", data={"email": "it@example.com", "password": "pw"}
    )
    assert response.status_code == 400
    assert "Form expired or forged" in response.get_data(as_text=True)


def test_the_api_answers_a_session_within_its_role(app):
    auditor = signed_in(app, make_user(app, "audit@example.com", "auditor"))
    marketer = signed_in(app, make_user(app, "m@example.com", "marketer", ("growth",)))
    assert auditor.get("/api/v1/audit/queries").status_code == 200
    refused = marketer.get("/api/v1/audit/queries")
    assert refused.status_code == 403
    assert "audit:read" in refused.get_json()["detail"]


def test_a_deactivated_users_session_ends_at_once(app):
    from gateway.db import db
    from gateway.identity.models import User

    user_id = make_user(app, "audit@example.com", "auditor")
    client = signed_in(app, user_id)
    assert client.get("/api/v1/audit/queries").status_code == 200
    with app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert client.get("/api/v1/audit/queries").status_code == 401
    assert client.get("/portal/").status_code == 302

"""The users API: admins list, create and change users; everyone else is refused; ``/me``
tells any caller who it is. Changes land in the history, never a password."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from catalog.history import ChangeEvent
from gateway.db import db
from tests.conftest import apply, get_token, register_test_app
from tests.people import csrf_token, make_user, signed_in


@pytest.fixture
def departments(app):
    apply(
        app,
        {"departments": [{"slug": "growth", "name": "Growth"}, {"slug": "brand", "name": "Brand"}]},
    )


@pytest.fixture
def admin(app, departments):
    client = signed_in(app, make_user(app, "root@example.com", "admin"))
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    return client


def _history(app) -> list[ChangeEvent]:
    with app.app_context():
        events = list(
            db.session.scalars(
                select(ChangeEvent)
                .where(ChangeEvent.object_type == "user")
                .order_by(ChangeEvent.id)
            )
        )
        db.session.expunge_all()
        return events


def test_an_admin_creates_a_user_and_gets_a_one_time_link(app, admin):
    answer = admin.post(
        "/api/v1/users",
        json={"email": " Ada@Example.COM", "role": "marketer", "departments": ["growth"]},
    )
    assert answer.status_code == 201, answer.json
    assert answer.headers["Cache-Control"] == "no-store"
    user = answer.json["user"]
    assert (user["email"], user["role"], user["departments"]) == (
        "ada@example.com",
        "marketer",
        ["growth"],
    )
    assert answer.json["sign_in_link"].startswith("http://localhost/portal/set-password/")
    [event] = _history(app)
    assert (event.action, event.source, event.actor_label) == ("created", "api", "root@example.com")


def test_a_password_given_is_never_in_the_answer_nor_the_history(app, admin):
    password = "a long enough password"
    answer = admin.post(
        "/api/v1/users",
        json={"email": "ada@example.com", "role": "auditor", "password": password},
    )
    assert answer.status_code == 201 and answer.json["sign_in_link"] is None
    history = json.dumps([(e.before, e.after) for e in _history(app)])
    assert password not in answer.text and password not in history
    assert "argon2" not in answer.text and "argon2" not in history


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"email": "not-an-address", "role": "marketer"}, "/email"),
        ({"email": "ada@example.com", "role": "boss"}, "/role"),
        (
            {"email": "ada@example.com", "role": "marketer", "departments": ["nowhere"]},
            "/departments",
        ),
        ({"email": "ada@example.com", "role": "marketer", "password": "short"}, "/password"),
        ({"email": "ada@example.com", "role": "marketer", "name": "x" * 201}, "/name"),
        ({"email": "ada@example.com", "role": "marketer", "is_admin": True}, ""),
        ({"role": "marketer"}, ""),
    ],
)
def test_a_bad_user_is_refused_field_by_field(app, admin, body, pointer):
    answer = admin.post("/api/v1/users", json=body)
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert pointer in [error["pointer"] for error in answer.json["errors"]]
    assert _history(app) == []


def test_the_same_email_in_another_case_is_a_conflict(admin):
    assert (
        admin.post(
            "/api/v1/users", json={"email": "ada@example.com", "role": "auditor"}
        ).status_code
        == 201
    )
    again = admin.post("/api/v1/users", json={"email": "ADA@example.com", "role": "auditor"})
    assert again.status_code == 409
    assert again.json["type"].endswith("/conflict")


def test_users_are_listed_in_pages_and_filtered(app, admin):
    for number in range(5):
        make_user(
            app, f"m{number}@example.com", "marketer", ("growth",) if number % 2 else ("brand",)
        )
    first = admin.get("/api/v1/users?limit=4")
    assert first.status_code == 200
    assert len(first.json["items"]) == 4 and first.json["next_cursor"]
    rest = admin.get(f"/api/v1/users?limit=4&cursor={first.json['next_cursor']}")
    assert [u["email"] for u in rest.json["items"]] == ["m3@example.com", "m4@example.com"]
    assert rest.json["next_cursor"] is None
    growth = admin.get("/api/v1/users?department=growth&role=marketer")
    assert [u["email"] for u in growth.json["items"]] == ["m1@example.com", "m3@example.com"]
    assert admin.get("/api/v1/users?role=admin").json["items"][0]["email"] == "root@example.com"


@pytest.mark.parametrize(
    "query", ["role=boss", "cursor=abc", "limit=0", "cursor=-1", "cursor=496214345159383"]
)
def test_a_bad_query_is_a_clear_400(admin, query):
    answer = admin.get(f"/api/v1/users?{query}")
    assert answer.status_code == 400
    assert answer.json["type"].endswith("/invalid-query")


def test_an_admin_changes_role_departments_and_name_and_it_is_recorded(app, admin):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    answer = admin.patch(
        f"/api/v1/users/{user_id}",
        json={"role": "it_reviewer", "departments": ["brand", "growth"], "name": "Ada L."},
    )
    assert answer.status_code == 200
    assert (answer.json["role"], answer.json["departments"], answer.json["name"]) == (
        "it_reviewer",
        ["brand", "growth"],
        "Ada L.",
    )
    [event] = _history(app)
    assert event.action == "updated"
    assert event.before == {"role": "marketer", "departments": ["growth"], "name": ""}
    assert event.after == {
        "role": "it_reviewer",
        "departments": ["brand", "growth"],
        "name": "Ada L.",
    }
    assert admin.get(f"/api/v1/users/{user_id}").json["role"] == "it_reviewer"


def test_deactivation_and_reactivation_are_recorded_as_such(app, admin):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    assert admin.patch(f"/api/v1/users/{user_id}", json={"active": False}).json["active"] is False
    assert admin.patch(f"/api/v1/users/{user_id}", json={"active": True}).json["active"] is True
    assert [event.action for event in _history(app)] == ["deactivated", "reactivated"]


def test_an_admin_cannot_deactivate_themself(app, admin):
    me = admin.get("/api/v1/me").json
    answer = admin.patch(f"/api/v1/users/{me['id']}", json={"active": False})
    assert answer.status_code == 409


@pytest.mark.parametrize(
    "path",
    ["/api/v1/users/999", "/api/v1/users/abc", "/api/v1/users/0", "/api/v1/users/3000000000"],
)
def test_an_unknown_user_is_404(admin, path):
    assert admin.get(path).status_code == 404


def test_an_empty_change_is_refused(app, admin):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    assert admin.patch(f"/api/v1/users/{user_id}", json={}).status_code == 422


def test_a_session_patch_without_the_csrf_token_is_refused(app, departments):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    admin = signed_in(app, make_user(app, "root@example.com", "admin"))
    answer = admin.patch(f"/api/v1/users/{user_id}", json={"role": "admin"})
    assert answer.status_code == 403
    assert answer.json["type"].endswith("/csrf-failed")
    forged = admin.patch(
        f"/api/v1/users/{user_id}", json={"role": "admin"}, headers={"X-CSRFToken": "forged"}
    )
    assert forged.status_code == 403
    assert _history(app) == []


@pytest.mark.parametrize("role", ["marketer", "it_reviewer", "auditor"])
def test_only_admins_use_the_users_api(app, departments, role):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    client = signed_in(app, make_user(app, "someone@example.com", role, ("growth",)))
    client.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(client)
    assert client.get("/api/v1/users").status_code == 403
    assert client.get(f"/api/v1/users/{user_id}").status_code == 403
    assert (
        client.post("/api/v1/users", json={"email": "x@example.com", "role": "admin"}).status_code
        == 403
    )
    assert client.patch(f"/api/v1/users/{user_id}", json={"role": "admin"}).status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    assert _history(app) == []


def test_me_tells_a_user_who_they_are(app, departments):
    client = signed_in(app, make_user(app, "ada@example.com", "marketer", ("growth",)))
    me = client.get("/api/v1/me").json
    assert me == {
        "kind": "user",
        "id": me["id"],
        "label": "ada@example.com",
        "role": "marketer",
        "permissions": ["apps:write", "catalog:read", "requests:write"],
        "departments": ["growth"],
    }
    assert (
        signed_in(app, make_user(app, "aud@example.com", "auditor"))
        .get("/api/v1/me")
        .json["departments"]
        is None
    )


def test_me_and_users_with_an_app_token(app, gateway, departments):
    token = get_token(gateway, register_test_app(app, "crm-sync", ["catalog:read"]))
    headers = {"Authorization": f"Bearer {token}"}
    me = requests.get(f"{gateway}/api/v1/me", headers=headers, timeout=10)
    assert me.status_code == 200
    assert (me.json()["kind"], me.json()["label"], me.json()["departments"]) == (
        "app",
        "crm-sync",
        ["growth"],
    )
    users = requests.get(f"{gateway}/api/v1/users", headers=headers, timeout=10)
    assert users.status_code == 403
    assert requests.get(f"{gateway}/api/v1/me", timeout=10).status_code == 401


def test_the_users_operations_are_in_the_openapi_document(app):
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/users"]) == {"get", "post"}
    assert set(paths["/users/{user_id}"]) == {"get", "patch"}
    assert paths["/me"]["get"]["security"][0] == {"gatewayToken": ["catalog:read"]}

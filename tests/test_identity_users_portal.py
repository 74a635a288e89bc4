"""The admins' users pages: create (link shown once), refused forms that keep what was
typed, changes, deactivation; what users typed is shown inert; only admins get in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.db import db
from gateway.identity.models import User
from tests.conftest import apply
from tests.people import csrf_token, make_user, signed_in

HOSTILE_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def admin(app):
    apply(
        app,
        {"departments": [{"slug": "growth", "name": "Growth"}, {"slug": "brand", "name": "Brand"}]},
    )
    return signed_in(app, make_user(app, "root@example.com", "admin"))


def _user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            user.department_slugs  # noqa: B018 (loaded before the session closes)
        db.session.expunge_all()
        return user


def test_an_admin_creates_a_user_and_sees_the_link_once(app, admin):
    answer = admin.post(
        "/portal/users",
        data={
            "csrf_token": csrf_token(admin),
            "email": "Ada@Example.com",
            "name": "Ada",
            "role": "marketer",
            "departments": ["growth", "brand"],
        },
    )
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    assert "http://localhost/portal/set-password/" in answer.text
    user = _user(app, "ada@example.com")
    assert (user.role.value, user.department_slugs) == ("marketer", ["brand", "growth"])
    listing = admin.get("/portal/users").text
    assert "ada@example.com" in listing and "set-password" not in listing


def test_a_refused_form_keeps_what_was_typed_and_says_what_to_fix(app, admin):
    answer = admin.post(
        "/portal/users",
        data={
            "csrf_token": csrf_token(admin),
            "email": "not-an-address",
            "name": "Ada Lovelace",
            "role": "it_reviewer",
            "departments": ["brand"],
        },
    )
    assert answer.status_code == 422
    page = answer.text
    assert 'value="not-an-address"' in page and 'value="Ada Lovelace"' in page
    assert '<option value="it_reviewer" selected>' in page
    assert 'value="brand" checked' in page
    assert 'aria-invalid="true" aria-describedby="email-error"' in page
    assert 'id="email-error">must be an e-mail address' in page
    assert _user(app, "not-an-address") is None


def test_an_email_taken_in_another_case_is_said_next_to_the_field(app, admin):
    make_user(app, "ada@example.com", "marketer", ("growth",))
    answer = admin.post(
        "/portal/users",
        data={"csrf_token": csrf_token(admin), "email": "ADA@example.com", "role": "auditor"},
    )
    assert answer.status_code == 409
    assert 'value="ADA@example.com"' in answer.text
    taken = "a user with the e-mail address &#39;ada@example.com&#39; exists"
    assert f'id="email-error">{taken}' in answer.text


def test_html_typed_into_a_name_is_shown_inert(app, admin):
    answer = admin.post(
        "/portal/users",
        data={
            "csrf_token": csrf_token(admin),
            "email": "ada@example.com",
            "name": HOSTILE_NAME,
            "role": "marketer",
        },
    )
    assert answer.status_code == 201
    user_id = _user(app, "ada@example.com").id
    for page in (admin.get("/portal/users").text, admin.get(f"/portal/users/{user_id}").text):
        assert HOSTILE_NAME not in page
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    refused = admin.post(
        "/portal/users",
        data={"csrf_token": csrf_token(admin), "email": HOSTILE_NAME, "role": "marketer"},
    )
    assert refused.status_code == 422 and "<script>alert" not in refused.text


def test_an_admin_changes_a_user_and_deactivates_them(app, admin):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    changed = admin.post(
        f"/portal/users/{user_id}",
        data={
            "csrf_token": csrf_token(admin),
            "name": "Ada",
            "role": "auditor",
            "departments": [],
        },
        follow_redirects=True,
    )
    assert changed.status_code == 200 and "changes saved" in changed.text
    user = _user(app, "ada@example.com")
    assert (user.role.value, user.department_slugs, user.name) == ("auditor", [], "Ada")
    deactivated = admin.post(
        f"/portal/users/{user_id}/active",
        data={"csrf_token": csrf_token(admin), "active": "false"},
        follow_redirects=True,
    )
    assert "deactivated: their sessions have ended" in deactivated.text
    assert _user(app, "ada@example.com").active is False
    assert "Reactivate" in deactivated.text


def test_a_refused_change_keeps_what_was_typed(app, admin):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    answer = admin.post(
        f"/portal/users/{user_id}",
        data={"csrf_token": csrf_token(admin), "name": "x" * 201, "role": "marketer"},
    )
    assert answer.status_code == 422
    assert 'id="name-error">must be at most 200 characters' in answer.text
    assert _user(app, "ada@example.com").name == ""


def test_a_forged_post_changes_nothing(app, admin):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    answer = admin.post(f"/portal/users/{user_id}/active", data={"active": "false"})
    assert answer.status_code == 400
    assert _user(app, "ada@example.com").active is True


@pytest.mark.parametrize("role", ["marketer", "it_reviewer", "auditor"])
def test_only_admins_see_the_users_pages(app, admin, role):
    user_id = make_user(app, "ada@example.com", "marketer", ("growth",))
    client = signed_in(app, make_user(app, "someone@example.com", role, ("growth",)))
    assert client.get("/portal/users").status_code == 403
    assert client.get(f"/portal/users/{user_id}").status_code == 403
    answer = client.post(
        f"/portal/users/{user_id}/active",
        data={"csrf_token": csrf_token(client), "active": "false"},
    )
    assert answer.status_code == 403
    assert 'href="/portal/users"' not in client.get("/portal/").text
    assert 'href="/portal/users"' in admin.get("/portal/").text
    assert _user(app, "ada@example.com").active is True

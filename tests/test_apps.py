"""Apps of departments through the API and the portal: registration, keys, removal, the
history, and isolation (another department's apps and keys are "not found")."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from catalog.history import ChangeEvent
from gateway.db import db
from tests.conftest import apply, demo_document
from tests.people import csrf_token, make_user, signed_in

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def people(app, sandbox):
    """Growth's catalog with its app, a marketer of growth, one of brand, an auditor."""
    document = demo_document(sandbox)
    document["departments"].append({"slug": "brand", "name": "Brand"})
    apply(app, document, {"MC_KEY": "k"})
    return {
        "growth": make_user(app, "gia@example.com", "marketer", ("growth",)),
        "brand": make_user(app, "ben@example.com", "marketer", ("brand",)),
        "auditor": make_user(app, "aud@example.com", "auditor"),
    }


def api(client, method: str, path: str, body: dict | None = None):
    headers = {"X-CSRFToken": csrf_token(client)} if method != "GET" else {}
    return client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def register(client, name: str = "spring-newsletter", **fields):
    body = {"name": name, "department": "growth", "tools": ["mailchimp"], **fields}
    return api(client, "POST", "/apps", body)


def test_a_marketer_registers_an_app_and_manages_its_keys(app, people):
    growth = signed_in(app, people["growth"])
    created = register(growth, description="Spring campaign")
    assert created.status_code == 201, created.json
    app_id, secret = created.json["app"]["id"], created.json["client_secret"]
    assert created.json["app"]["tools"] == ["mailchimp"]

    first = api(growth, "POST", f"/apps/{app_id}/keys", {"name": "prod"}).json
    assert first["api_key"].startswith("ghk_" + first["key"]["key_id"] + "_")
    rotated = api(
        growth,
        "POST",
        f"/apps/{app_id}/keys",
        {"replaces": first["key"]["key_id"], "overlap_hours": 1},
    )
    assert rotated.status_code == 201 and rotated.json["key"]["name"] == "prod"
    keys = {key["key_id"]: key for key in api(growth, "GET", f"/apps/{app_id}").json["keys"]}
    assert keys[first["key"]["key_id"]]["state"] == "expiring"
    assert keys[rotated.json["key"]["key_id"]]["state"] == "active"
    revoked = api(growth, "DELETE", f"/apps/{app_id}/keys/{first['key']['key_id']}")
    assert revoked.json["state"] == "revoked"
    new_secret = api(growth, "POST", f"/apps/{app_id}/secret").json["client_secret"]
    assert new_secret != secret
    removed = api(growth, "DELETE", f"/apps/{app_id}").json
    assert removed["active"] is False
    assert {key["state"] for key in removed["keys"]} == {"revoked"}

    with app.app_context():
        events = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)).all()
        history = json.dumps([event.as_dict() for event in events])
    actions = [(e.object_type, e.action) for e in events if e.source == "api"]
    assert actions == [
        ("app", "created"),
        ("api_key", "created"),
        ("api_key", "created"),
        ("api_key", "rotated"),
        ("api_key", "revoked"),
        ("app", "secret_rotated"),
        ("api_key", "revoked"),
        ("app", "deactivated"),
    ]
    key_secrets = [key[len("ghk_") + 13 :] for key in (first["api_key"], rotated.json["api_key"])]
    for shown_once in (secret, new_secret, *key_secrets):
        assert shown_once not in history


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"department": "brand"}, "/department"),
        ({"department": "nowhere"}, "/department"),
        ({"tools": ["mailchimp", "nosuchtool"]}, "/tools/1"),
        ({"name": "  "}, "/name"),
        ({"name": "two\nlines"}, "/name"),
    ],
)
def test_a_registration_is_refused_field_by_field(app, people, fields, pointer):
    refused = register(signed_in(app, people["growth"]), **fields)
    assert refused.status_code == 422
    assert pointer in [error["pointer"] for error in refused.json["errors"]]


def test_a_name_taken_is_a_conflict_and_bad_key_input_is_422(app, people):
    growth = signed_in(app, people["growth"])
    assert register(growth, "newsletter-app").status_code == 409
    app_id = register(growth).json["app"]["id"]
    for body, pointer in [
        ({"expires_at": "2001-01-01T00:00:00Z"}, "/expires_at"),
        ({"expires_at": "tomorrow"}, "/expires_at"),
        ({"replaces": "nope", "overlap_hours": -1}, "/overlap_hours"),
        ({"overlap_hours": 1}, "/overlap_hours"),
        ({"expires_at": "9999-12-31T23:00:00-05:00"}, "/expires_at"),
    ]:
        refused = api(growth, "POST", f"/apps/{app_id}/keys", body)
        assert refused.status_code == 422, body
        assert refused.json["errors"][0]["pointer"] == pointer
    assert api(growth, "POST", f"/apps/{app_id}/keys", {"replaces": "nope"}).status_code == 404


def test_the_portal_says_why_a_key_cannot_be_rotated(app, people):
    growth = signed_in(app, people["growth"])
    app_id = register(growth).json["app"]["id"]
    key_id = api(growth, "POST", f"/apps/{app_id}/keys", {}).json["key"]["key_id"]
    api(growth, "DELETE", f"/apps/{app_id}/keys/{key_id}")
    form = {"csrf_token": csrf_token(growth), "replaces": key_id, "overlap_hours": "2"}
    refused = growth.post(f"/portal/apps/{app_id}/keys", data=form)
    assert refused.status_code == 422
    assert f'role="alert">key {key_id} is revoked; create a new key instead' in refused.get_data(
        as_text=True
    )
    form["replaces"], form["overlap_hours"] = key_id, "-3"
    assert "whole hours from 0 to 720" in growth.post(
        f"/portal/apps/{app_id}/keys", data=form
    ).get_data(as_text=True)


def test_another_department_finds_no_app_and_no_key(app, people):
    growth = signed_in(app, people["growth"])
    app_id = register(growth).json["app"]["id"]
    key_id = api(growth, "POST", f"/apps/{app_id}/keys", {}).json["key"]["key_id"]
    with app.app_context():
        history_before = [row for (row,) in db.session.execute(select(ChangeEvent.id))]
    brand = signed_in(app, people["brand"])
    assert api(brand, "GET", "/apps").json["items"] == []
    for other_id in [app_id, app_id - 1, app_id + 1, 999]:
        for method, path in [
            ("GET", f"/apps/{other_id}"),
            ("DELETE", f"/apps/{other_id}"),
            ("POST", f"/apps/{other_id}/keys"),
            ("DELETE", f"/apps/{other_id}/keys/{key_id}"),
            ("POST", f"/apps/{other_id}/secret"),
        ]:
            answer = api(brand, method, path, {} if path.endswith("/keys") else None)
            assert answer.status_code == 404, (method, path)
        for method, path in [
            ("GET", f"/portal/apps/{other_id}"),
            ("POST", f"/portal/apps/{other_id}/keys"),
            ("POST", f"/portal/apps/{other_id}/keys/{key_id}/revoke"),
            ("POST", f"/portal/apps/{other_id}/secret"),
            ("POST", f"/portal/apps/{other_id}/remove"),
        ]:
            answer = brand.open(path, method=method, data={"csrf_token": csrf_token(brand)})
            assert answer.status_code == 404, (method, path)
    with app.app_context():  # and nothing was changed on the way
        assert [row for (row,) in db.session.execute(select(ChangeEvent.id))] == history_before


def test_an_auditor_reads_apps_and_changes_none(app, people):
    app_id = register(signed_in(app, people["growth"])).json["app"]["id"]
    auditor = signed_in(app, people["auditor"])
    assert len(api(auditor, "GET", "/apps").json["items"]) == 2
    assert api(auditor, "GET", f"/apps/{app_id}").status_code == 200
    assert api(auditor, "POST", f"/apps/{app_id}/keys", {}).status_code == 403
    assert api(auditor, "DELETE", f"/apps/{app_id}").status_code == 403
    page = auditor.get(f"/portal/apps/{app_id}").get_data(as_text=True)
    assert "Create the key" not in page and "Revoke" not in page


def test_a_change_with_a_session_needs_the_csrf_token(app, people):
    growth = signed_in(app, people["growth"])
    forged = growth.post("/api/v1/apps", json={"name": "x", "department": "growth"})
    assert forged.status_code == 403
    assert growth.post("/portal/apps/new", data={"name": "x"}).status_code == 400


def test_the_list_pages_by_cursor(app, people):
    growth = signed_in(app, people["growth"])
    for index in range(3):
        register(growth, f"app-{index}")
    first = api(growth, "GET", "/apps?limit=2").json
    rest = api(growth, "GET", f"/apps?limit=2&cursor={first['next_cursor']}").json
    names = [item["name"] for item in first["items"] + rest["items"]]
    assert names == ["newsletter-app", "app-0", "app-1", "app-2"]
    assert rest["next_cursor"] is None
    assert api(growth, "GET", "/apps?cursor=x").status_code == 400


def test_the_portal_registers_an_app_and_shows_its_key_once(app, people):
    growth = signed_in(app, people["growth"])
    form = {"csrf_token": csrf_token(growth), "department": "growth", "tools": ["mailchimp"]}
    refused = growth.post("/portal/apps/new", data={**form, "name": "", "description": "kept"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'aria-invalid="true" aria-describedby="name-error name-hint"' in page
    assert ">kept</textarea>" in page and 'value="mailchimp" checked' in page

    created = growth.post("/portal/apps/new", data={**form, "name": "portal-app"})
    page = created.get_data(as_text=True)
    assert created.status_code == 201
    key = page.split('<output id="api-key" class="secret">')[1].split("<")[0]
    assert key.startswith("ghk_")
    assert f"http://localhost/proxy/mailchimp</code> and the key to <code>{key}" in page
    listed = growth.get("/portal/apps").get_data(as_text=True)
    assert "portal-app" in listed and key not in listed


def test_html_typed_into_an_app_is_shown_inert(app, people):
    growth = signed_in(app, people["growth"])
    app_id = register(growth, XSS, description=XSS).json["app"]["id"]
    api(growth, "POST", f"/apps/{app_id}/keys", {"name": XSS})
    for path in ("/portal/apps", f"/portal/apps/{app_id}"):
        page = growth.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page

"""The auditors' page of the exchange log: what a call left there, for auditors only."""

from __future__ import annotations

import requests
from sqlalchemy import select

from gateway.audit.queries import AuditQuery
from gateway.db import db
from tests.conftest import get_token
from tests.people import make_user, signed_in

MEMBERS_PATH = "/proxy/mailchimp/lists/a1b2c3d4e5/members"
ADA = {"email_address": "ada@example.com", "status": "subscribed"}
BOB = {"email_address": "bob@example.com", "status": "subscribed"}


def call(gateway: str, token: str, member: dict) -> requests.Response:
    return requests.post(
        gateway + MEMBERS_PATH,
        json=member,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_an_auditor_sees_each_call_newest_first_with_its_decision(app, gateway, demo):
    token = get_token(gateway, demo)
    assert call(gateway, token, ADA).status_code == 200
    assert call(gateway, token, BOB).status_code == 403  # Bob never consented
    auditor = signed_in(app, make_user(app, "aude@example.com", "auditor"))
    page = auditor.get("/portal/exchanges").get_data(as_text=True)
    assert page.index("badge-decision-deny") < page.index("badge-decision-allow")
    assert "consent" in page and demo.client_id in page
    assert "bob@example.com" not in page and "ada@example.com" not in page
    denied = auditor.get("/portal/exchanges?decision=deny").get_data(as_text=True)
    assert "badge-decision-allow" not in denied and "badge-decision-deny" in denied


def test_a_person_is_searched_by_address_and_the_search_is_in_the_trail(app, gateway, demo):
    token = get_token(gateway, demo)
    assert call(gateway, token, ADA).status_code == 200
    auditor_id = make_user(app, "aude@example.com", "auditor")
    auditor = signed_in(app, auditor_id)
    assert "1 matching call." in auditor.get("/portal/exchanges?email=ADA@example.com").get_data(
        as_text=True
    )
    assert "0 matching calls." in auditor.get("/portal/exchanges?email=bob@example.com").get_data(
        as_text=True
    )
    with app.app_context():
        trail = db.session.scalars(select(AuditQuery).order_by(AuditQuery.id)).all()
    assert [query.actor for query in trail] == [f"user:{auditor_id} (aude@example.com)"] * 2
    assert [query.result_count for query in trail] == [1, 0]
    assert all(len(query.parameters["subject_key"]) == 64 for query in trail)
    assert "example.com" not in str([query.parameters for query in trail])


def test_a_filter_that_cannot_be_read_is_said_on_the_page(app):
    auditor = signed_in(app, make_user(app, "aude@example.com", "auditor"))
    response = auditor.get("/portal/exchanges?since=yesterday-ish&tool=<script>")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "since" in page and "<script>" not in page and "&lt;script&gt;" in page


def test_only_auditors_read_the_log(app):
    for role, departments in (("marketer", ("growth",)), ("it_reviewer", ()), ("admin", ())):
        client = signed_in(app, make_user(app, f"{role}@example.com", role, departments))
        assert client.get("/portal/exchanges").status_code == 403
        assert "Exchange log" not in client.get("/portal/").get_data(as_text=True)

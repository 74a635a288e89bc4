"""Tool requests over the API of a live gateway: filing, following, talking, isolation."""

from __future__ import annotations

import pytest

from catalog.events import take_announcements
from catalog.history import ChangeEvent
from catalog.models import ToolRequest
from gateway.db import db
from tests.conftest import apply, demo_document
from tests.people import make_user
from tests.requesting import api, new_request, sign_in_people


@pytest.fixture
def people(gateway, app):
    return sign_in_people(gateway, app)


def test_a_marketer_files_a_request_and_follows_it(gateway, people):
    filed = people["growth"].post(api(gateway), json=new_request(), timeout=10)
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert body["status"] == "submitted" and body["departments"] == ["growth"]
    assert body["requester"] == "g@example.com" and body["review"] is None
    again = people["growth"].get(f"{api(gateway)}/{body['id']}", timeout=10).json()
    assert again["vendor_name"] == "Brevo" and again["waited_seconds"] >= 0
    mine = people["growth"].get(api(gateway), params={"mine": "true"}, timeout=10).json()
    assert [item["id"] for item in mine["items"]] == [body["id"]]


def test_every_problem_of_a_request_is_listed_with_its_field(gateway, people):
    refused = people["growth"].post(
        api(gateway),
        json=new_request(
            vendor_name="  ",
            website="ftp://brevo.com",
            purposes=["marketing.nonsense"],
            data_categories=[],
            departments=["brand", "nowhere"],
            desired_date="2020-01-01",
            connector="no-such-connector",
        ),
        timeout=10,
    )
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    pointers = {error["pointer"]: error["message"] for error in refused.json()["errors"]}
    assert set(pointers) == {
        "/vendor_name",
        "/website",
        "/purposes",
        "/data_categories",
        "/departments",
        "/desired_date",
        "/connector",
    }
    assert "brand" in pointers["/departments"] and "nowhere" in pointers["/departments"]
    assert "marketing.nonsense" in pointers["/purposes"]


def test_a_body_that_does_not_match_the_schema_is_refused_before_the_service(gateway, people):
    refused = people["growth"].post(api(gateway), json=new_request(urgency="asap"), timeout=10)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/urgency"
    not_json = people["growth"].post(api(gateway), data="vendor=x", timeout=10)
    assert not_json.status_code == 415


def test_a_marketer_of_another_department_finds_nothing_of_growths(gateway, people):
    ids = [
        people["growth"].post(api(gateway), json=new_request(), timeout=10).json()["id"]
        for _ in range(2)
    ]
    brand = people["brand"]
    for request_id in [*ids, ids[-1] + 1]:
        base = f"{api(gateway)}/{request_id}"
        answers = [
            brand.get(base, timeout=10),
            brand.post(f"{base}/messages", json={"kind": "comment", "body": "hi"}, timeout=10),
            brand.post(f"{base}/messages", json={"kind": "answer", "body": "hi"}, timeout=10),
            brand.put(f"{base}/review", json={"sso": True}, timeout=10),
            brand.post(f"{base}/decision", json={"outcome": "reject", "comment": "x"}, timeout=10),
        ]
        assert [answer.status_code for answer in answers] == [404] * 5
        assert all("Brevo" not in answer.text for answer in answers)
    assert brand.get(api(gateway), timeout=10).json()["items"] == []


def test_the_growth_marketer_may_not_review_or_decide_their_own_request(gateway, people):
    request_id = people["growth"].post(api(gateway), json=new_request(), timeout=10).json()["id"]
    base = f"{api(gateway)}/{request_id}"
    growth = people["growth"]
    assert growth.put(f"{base}/review", json={}, timeout=10).status_code == 403
    decided = growth.post(f"{base}/decision", json={"outcome": "reject", "comment": "x"})
    assert decided.status_code == 403
    asked = growth.post(f"{base}/messages", json={"kind": "question", "body": "?"}, timeout=10)
    assert asked.status_code == 403


def test_a_question_waits_for_the_requester_and_the_answer_for_it(gateway, people, app):
    filed = people["growth"].post(api(gateway), json=new_request(), timeout=10).json()
    base = f"{api(gateway)}/{filed['id']}"
    early = people["growth"].post(
        f"{base}/messages", json={"kind": "answer", "body": "unasked"}, timeout=10
    )
    assert early.status_code == 409
    asked = people["it"].post(
        f"{base}/messages", json={"kind": "question", "body": "Which lists?"}, timeout=10
    )
    assert asked.status_code == 201 and asked.json()["status"] == "needs_info"
    assert asked.json()["status_since"] > filed["status_since"]
    answered = (
        people["growth"]
        .post(
            f"{base}/messages", json={"kind": "answer", "body": "The newsletter list"}, timeout=10
        )
        .json()
    )
    assert answered["status"] == "submitted"
    assert [(m["kind"], m["author"]) for m in answered["messages"]] == [
        ("question", "it@example.com"),
        ("answer", "g@example.com"),
    ]
    with app.app_context():
        actions = db.session.scalars(
            ChangeEvent.__table__.select()
            .with_only_columns(ChangeEvent.action)
            .where(ChangeEvent.object_type == "tool_request")
            .order_by(ChangeEvent.id)
        ).all()
    assert actions == ["created", "question_asked", "question_answered"]
    empty = people["it"].post(f"{base}/messages", json={"kind": "comment", "body": "  "})
    assert empty.status_code == 422 and empty.json()["errors"][0]["pointer"] == "/body"


def test_lists_are_filtered_and_paginated(gateway, people):
    for name in ("One", "Two", "Three"):
        people["growth"].post(api(gateway), json=new_request(vendor_name=name), timeout=10)
    it = people["it"]
    first = it.get(api(gateway), params={"limit": 2}, timeout=10).json()
    assert [item["vendor_name"] for item in first["items"]] == ["Three", "Two"]
    rest = it.get(api(gateway), params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [item["vendor_name"] for item in rest["items"]] == ["One"]
    assert rest["next_cursor"] is None
    assert it.get(api(gateway), params={"status": "approved"}).json()["items"] == []
    assert it.get(api(gateway), params={"status": "maybe"}).status_code == 400
    assert it.get(api(gateway), params={"cursor": "abc"}).status_code == 400


def test_overlap_names_covering_tools_and_the_same_vendor(gateway, people, app, sandbox):
    apply(app, demo_document(sandbox), {"MC_KEY": "k-us21"})
    people["brand"].post(
        api(gateway),
        json=new_request(vendor_name="Mail Chimp", website="https://mailchimp.com",
                         departments=["brand"]),
        timeout=10,
    )  # fmt: skip
    answer = people["growth"].get(
        f"{api(gateway)}/overlap",
        params={
            "purpose": ["marketing.communications.email", "analytics.reporting"],
            "category": ["user.contact.email"],
            "vendor": "MailChimp",
            "website": "http://www.mailchimp.com/pricing",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    covering = answer.json()["covering_tools"]
    assert [tool["slug"] for tool in covering] == ["mailchimp"]
    assert covering[0]["purposes"] == ["marketing.communications.email"]
    assert covering[0]["departments"] == ["growth"]
    same = answer.json()["same_vendor"]
    assert {(match["kind"], match["matched_by"]) for match in same} == {
        ("tool", "name"),
        ("tool_request", "name"),
    }
    # Brand's request is mentioned to Growth, but not which one it is.
    assert next(m for m in same if m["kind"] == "tool_request")["reference"] is None
    refused = people["growth"].get(f"{api(gateway)}/overlap", params={"purpose": "nope"})
    assert refused.status_code == 400


def test_withdrawing_closes_the_request(app):
    from catalog import requests as tool_requests
    from gateway.identity.actors import Actor

    user_id = make_user(app, "g@example.com", "marketer", ("growth",))
    actor = Actor.for_user(user_id, "g@example.com", "marketer", ["growth"])
    with app.app_context():
        filed = tool_requests.submit(db.session, actor, "test", new_request(), ["brevo"])
        events = take_announcements(db.session)
        assert [event.name for event in events] == ["request_submitted"]
        assert "Growth asked for Brevo" in events[0].summary
        tool_requests.withdraw(db.session, actor, "test", filed)
        db.session.commit()
        assert db.session.get(ToolRequest, filed.id).status.value == "withdrawn"
        with pytest.raises(Exception, match="withdrawn already"):
            tool_requests.withdraw(db.session, actor, "test", filed)


def test_the_tool_request_api_answers_as_documented_when_fuzzed(gateway, people):
    """Schemathesis, as for every operation, but signed in as IT so the calls get past the
    door and reach the services (an app token holds none of these permissions yet)."""
    import schemathesis

    from tests.test_schemathesis import MODES, REFUSALS, exercise_with_headers

    people["growth"].post(api(gateway), json=new_request(), timeout=10)
    reviewer = people["it"]
    headers = {
        "Cookie": "; ".join(f"{c.name}={c.value}" for c in reviewer.cookies),
        "X-CSRFToken": reviewer.headers["X-CSRFToken"],
    }
    schema = schemathesis.openapi.from_url(f"{gateway}/api/v1/openapi.json")
    schema.config.checks.negative_data_rejection.expected_statuses = [*REFUSALS, "409"]
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith("/tool-requests")
    ]
    assert len(operations) == 7
    for operation in operations:
        for mode in MODES:
            try:
                exercise_with_headers(operation, mode, f"{gateway}/api/v1", headers)
            except Exception as exc:
                exc.add_note(f"{operation.label} with {mode.value} data")
                raise


def test_ids_beyond_the_column_name_no_request(gateway, people):
    too_big = 2**31
    assert people["it"].get(f"{api(gateway)}/{too_big}", timeout=10).status_code == 404
    listed = people["it"].get(api(gateway), params={"cursor": str(2**62)}, timeout=10)
    assert listed.status_code == 200
    assert people["it"].get(f"{gateway}/portal/requests/{2**40}", timeout=10).status_code == 404

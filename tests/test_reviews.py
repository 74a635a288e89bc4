"""IT's side of a tool request: the checklist, the queue, and decisions that change the catalog."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests
from sqlalchemy import select

from catalog import requests as tool_requests
from catalog.checklist import checklist_problems, missing_answers, save_review
from catalog.credentials import missing_credentials
from catalog.decisions import decide, tool_slug
from catalog.events import take_announcements
from catalog.history import ChangeEvent
from catalog.models import Department, Grant, Tool
from connectors.registry import load_spec
from gateway.db import db, utcnow
from gateway.identity.actors import Actor
from tests.conftest import SANDBOX_MAILCHIMP_KEY, apply, demo_document, get_token
from tests.requesting import api, complete_checklist, new_request, sign_in_people

NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()


@pytest.fixture
def people(gateway, app):
    return sign_in_people(gateway, app)


def filed(gateway, people, **changes) -> int:
    answer = people["growth"].post(api(gateway), json=new_request(**changes), timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_the_checklist_says_what_is_wrong_with_each_answer():
    problems = checklist_problems(
        complete_checklist(
            processing_country="XX",
            transfer_basis="trust-us",
            dpa_signed="last spring",
            security_contact="nobody",
            attachments=["http://vendor.example/dpa.pdf"],
            certifications=[{"name": "soc2", "valid_until": "31/12/2027"}],
            favourite_colour="blue",
        )
    )
    pointers = {problem["pointer"]: problem["message"] for problem in problems}
    assert set(pointers) == {
        "",
        "/processing_country",
        "/transfer_basis",
        "/dpa_signed",
        "/security_contact",
        "/attachments/0",
        "/certifications/0/valid_until",
    }
    assert "ISO 3166" in pointers["/processing_country"]
    assert pointers["/attachments/0"] == "must be an https:// link"
    assert missing_answers(complete_checklist()) == []
    assert missing_answers({"sso": False, "subprocessors": []}) == [
        "dpa_signed",
        "processing_country",
        "transfer_basis",
        "retention_terms",
        "deletion_terms",
        "mfa",
        "security_contact",
    ]


def test_saving_the_checklist_puts_the_request_under_review(gateway, people):
    request_id = filed(gateway, people)
    base = f"{api(gateway)}/{request_id}"
    partial = people["it"].put(f"{base}/review", json={"sso": True}, timeout=10)
    assert partial.status_code == 200, partial.text
    body = partial.json()
    assert body["status"] == "under_review"
    assert body["review"]["complete"] is False and "dpa_signed" in body["review"]["missing"]
    refused = people["it"].put(f"{base}/review", json={"processing_country": "Germany"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/processing_country"
    # The requester sees the status, not IT's checklist.
    assert people["growth"].get(base, timeout=10).json()["review"] is None


def test_approving_needs_a_complete_checklist(gateway, people):
    request_id = filed(gateway, people)
    base = f"{api(gateway)}/{request_id}"
    people["it"].put(f"{base}/review", json={"sso": True}, timeout=10)
    refused = people["it"].post(
        f"{base}/decision", json={"outcome": "approve", "comment": "ok"}, timeout=10
    )
    assert refused.status_code == 409
    assert "/checklist/dpa_signed" in {error["pointer"] for error in refused.json()["errors"]}


def test_approval_with_conditions_makes_the_tool_callable_at_once(app, gateway, sandbox, people):
    # The catalog knows Mailchimp only as requested, its key already stored by an admin.
    document = demo_document(sandbox, status="requested")
    document["grants"] = []
    report = apply(app, document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    token = get_token(gateway, report.new_clients[0])
    headers = {"Authorization": f"Bearer {token}"}
    before = requests.get(f"{gateway}/proxy/mailchimp/ping", headers=headers, timeout=10)
    assert before.status_code == 403

    request_id = filed(
        gateway, people, vendor_name="Mailchimp", website="https://mailchimp.com",
        connector="mailchimp", purposes=["essential.service.operations"],
    )  # fmt: skip
    base = f"{api(gateway)}/{request_id}"
    people["it"].put(f"{base}/review", json=complete_checklist(), timeout=10)
    decided = people["it"].post(
        f"{base}/decision",
        json={
            "outcome": "approve_with_conditions",
            "comment": "Approved for the newsletter; re-review next year",
            "review_due": NEXT_YEAR,
            "grants": [
                {
                    "department": "growth",
                    "purposes": ["essential.service.operations", "marketing.communications"],
                    "data_categories": ["user.contact.email"],
                    "mode": "redact",
                    "expires": NEXT_YEAR,
                }
            ],
        },
        timeout=10,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["tool"] == "mailchimp"
    assert decided.json()["waiting_for_credentials"] == []
    assert decided.json()["request"]["status"] == "approved"
    assert decided.json()["request"]["messages"][-1]["kind"] == "decision"

    called = requests.get(f"{gateway}/proxy/mailchimp/ping", headers=headers, timeout=10)
    assert called.status_code == 200, called.text

    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "mailchimp"))
        assert (tool.status.value, tool.country, tool.transfer_basis.value) == (
            "approved",
            "US",
            "dpf",
        )
        assert tool.review_due.isoformat() == NEXT_YEAR
        grant = db.session.scalar(select(Grant).where(Grant.tool_id == tool.id))
        assert grant.mode.value == "redact" and grant.expires.isoformat() == NEXT_YEAR
        history = db.session.scalars(
            select(ChangeEvent).where(ChangeEvent.source == "api").order_by(ChangeEvent.id)
        ).all()
        assert [(event.object_type, event.action) for event in history][-3:] == [
            ("tool", "approved"),
            ("grant", "created"),
            ("tool_request", "decided"),
        ]
        assert history[-1].actor_label == "it@example.com"


def test_a_new_tool_without_stored_credentials_waits_for_them(app):
    it = Actor.for_operator("test")
    with app.app_context():
        db.session.add(Department(slug="growth", name="Growth"))
        db.session.flush()
        request = tool_requests.submit(db.session, it, "test", new_request(), ["brevo"])
        save_review(db.session, it, "test", request, complete_checklist())
        take_announcements(db.session)
        result = decide(db.session, it, "test", request, {"outcome": "approve", "comment": "ok"})
        assert result.tool.slug == "brevo" and result.missing_credentials == ("api_key",)
        assert missing_credentials(result.tool, load_spec("brevo")) == ["api_key"]
        events = [event.name for event in take_announcements(db.session)]
        assert events == ["request_decided", "credentials_needed"]
        grant = db.session.scalar(select(Grant))
        assert (grant.department.slug, grant.purposes) == (
            "growth",
            ["marketing.communications.email"],
        )
        db.session.rollback()


def test_a_decided_request_stays_decided(gateway, people):
    request_id = filed(gateway, people)
    base = f"{api(gateway)}/{request_id}"
    no_comment = people["it"].post(f"{base}/decision", json={"outcome": "reject", "comment": ""})
    assert no_comment.status_code == 422
    assert no_comment.json()["errors"][0]["pointer"] == "/comment"
    rejected = people["it"].post(
        f"{base}/decision", json={"outcome": "reject", "comment": "Use Mailchimp"}, timeout=10
    )
    assert rejected.status_code == 200 and rejected.json()["request"]["status"] == "rejected"
    for outcome in ("approve", "reject", "needs_info"):
        again = people["it"].post(
            f"{base}/decision", json={"outcome": outcome, "comment": "again"}, timeout=10
        )
        assert again.status_code == 409, again.text
    assert people["it"].put(f"{base}/review", json={"sso": True}).status_code == 409
    seen = people["growth"].get(base, timeout=10).json()
    assert seen["outcome"] == "reject" and seen["messages"][-1]["body"] == "Use Mailchimp"


def test_needs_info_is_a_question_and_bad_grants_are_listed(gateway, people):
    request_id = filed(gateway, people)
    base = f"{api(gateway)}/{request_id}"
    asked = (
        people["it"]
        .post(f"{base}/decision", json={"outcome": "needs_info", "comment": "Which lists?"})
        .json()
    )
    assert asked["request"]["status"] == "needs_info"
    assert asked["request"]["messages"][-1]["kind"] == "question"
    people["it"].put(f"{base}/review", json=complete_checklist(), timeout=10)
    refused = people["it"].post(
        f"{base}/decision",
        json={
            "outcome": "approve_with_conditions",
            "comment": "ok",
            "review_due": "2001-01-01",
            "grants": [
                {"department": "nowhere", "purposes": ["x.y"], "data_categories": []},
            ],
            "tool": {"connector": "no-such"},
        },
        timeout=10,
    )
    assert refused.status_code == 422
    assert {error["pointer"] for error in refused.json()["errors"]} == {
        "/tool/connector",
        "/grants/0/department",
        "/grants/0/purposes",
        "/grants/0/data_categories",
        "/review_due",
    }


def test_the_queue_puts_the_most_urgent_and_longest_waiting_first(app):
    it = Actor.for_operator("test")
    with app.app_context():
        db.session.add(Department(slug="growth", name="Growth"))
        db.session.flush()
        made = {}
        for name, urgency, age in [
            ("Low", "low", 9),
            ("Old", "normal", 5),
            ("New", "normal", 1),
            ("Fire", "critical", 0),
        ]:
            request = tool_requests.submit(
                db.session, it, "test", new_request(vendor_name=name, urgency=urgency), ["brevo"]
            )
            request.status_since = utcnow() - timedelta(days=age)
            made[name] = request
        tool_requests.withdraw(db.session, it, "test", made["Low"])
        queue = tool_requests.review_queue(db.session, it)
        assert [request.vendor_name for request, _ in queue] == ["Fire", "Old", "New"]
        assert queue[1][1] >= timedelta(days=5)
        db.session.rollback()


def test_a_vendors_name_becomes_a_slug():
    assert tool_slug("Brevo (Sendinblue)") == "brevo-sendinblue"
    assert tool_slug("  ") == "tool"

"""The portal's request and review pages, driven as a person would with the test client."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from catalog.models import Grant, Tool, ToolRequest
from gateway.db import db
from tests.conftest import apply, demo_document
from tests.people import csrf_token, make_user, signed_in

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
LATER = (date.today() + timedelta(days=20)).isoformat()


def form(**changes) -> dict:
    return {
        "vendor_name": "Brevo",
        "website": "https://www.brevo.com",
        "category": "email",
        "connector": "brevo",
        "purposes": ["marketing.communications.email"],
        "data_categories": ["user.contact.email"],
        "departments": ["growth"],
        "justification": "Newsletters for the spring launch",
        "expected_volume": "10k a month",
        "urgency": "high",
        "desired_date": LATER,
        **changes,
    }


@pytest.fixture
def growth(app):
    client = signed_in(app, make_user(app, "g@example.com", "marketer", ("growth",)))
    client.token = csrf_token(client)
    return client


@pytest.fixture
def brand(app):
    client = signed_in(app, make_user(app, "b@example.com", "marketer", ("brand",)))
    client.token = csrf_token(client)
    return client


@pytest.fixture
def reviewer(app):
    client = signed_in(app, make_user(app, "it@example.com", "it_reviewer"))
    client.token = csrf_token(client)
    return client


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": client.token})


def file_request(client, **changes) -> int:
    answer = post(client, "/portal/requests/new", {**form(**changes), "step": "submit"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return int(answer.headers["Location"].rsplit("/", 1)[1])


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_request_form_offers_fideslang_in_plain_words(growth):
    page = text(growth.get("/portal/requests/new"))
    assert "<summary>Marketing" in page and "<summary>Contact Data" in page
    assert 'value="marketing.communications.email"' in page
    assert "Email" in page and "Check for overlaps" in page
    assert "Submit request" not in page  # the overlaps are seen first
    assert 'id="department-growth" value="growth" checked' in page


def test_a_refused_request_keeps_what_was_typed_and_says_what_to_fix(growth):
    answer = post(
        growth,
        "/portal/requests/new",
        form(website="brevo dot com", purposes=[], desired_date="2001-01-01", step="check"),
    )
    assert answer.status_code == 422
    page = text(answer)
    assert 'value="brevo dot com"' in page and 'value="Brevo"' in page
    assert 'id="website" name="website"' in page
    assert re.search(r'id="website"[^>]*aria-describedby="website-hint website-error"', page)
    assert re.search(r'id="website"[^>]*aria-invalid="true"', page)
    assert 'id="website-error">must be a web address' in page
    assert 'id="purposes-error">choose at least one fideslang data use' in page
    assert 'id="desired_date-error">must be today or later' in page
    assert "Newsletters for the spring launch</textarea>" in page
    assert 'value="user.contact.email" checked' in page
    assert "3 fields need fixing" in page


def test_checking_shows_covering_tools_and_the_same_vendor_before_submitting(app, growth, sandbox):
    apply(app, demo_document(sandbox), {"MC_KEY": "k-us21"})
    answer = post(
        growth,
        "/portal/requests/new",
        form(vendor_name="MailChimp ", website="https://www.mailchimp.com", step="check"),
    )
    assert answer.status_code == 200
    page = text(answer)
    assert "This vendor is already known to Gatehouse" in page
    assert "Catalog tool <strong>Mailchimp</strong> (approved), same name" in page
    assert "These approved tools already cover" in page
    assert "Submit request" in page
    with app.app_context():
        assert db.session.scalar(select(ToolRequest)) is None  # nothing filed by checking


def test_a_filed_request_is_followed_and_a_question_answered(app, growth, reviewer):
    request_id = file_request(growth)
    listing = text(growth.get("/portal/requests"))
    assert "Brevo" in listing and "badge-submitted" in listing and "a moment" in listing
    asked = post(reviewer, f"/portal/reviews/{request_id}/question", {"body": "Which list?"})
    assert asked.status_code == 302
    page = text(growth.get(f"/portal/requests/{request_id}"))
    assert "IT needs more information" in page and "Which list?" in page
    empty = post(growth, f"/portal/requests/{request_id}/messages", {"kind": "answer", "body": ""})
    assert empty.status_code == 422 and 'id="body-answer-error">is required' in text(empty)
    answered = post(
        growth, f"/portal/requests/{request_id}/messages", {"kind": "answer", "body": "Spring"}
    )
    assert answered.status_code == 302
    with app.app_context():
        assert db.session.get(ToolRequest, request_id).status.value == "submitted"


def test_another_department_finds_none_of_growths_pages(growth, brand):
    request_id = file_request(growth)
    for path in (
        f"/portal/requests/{request_id}",
        f"/portal/reviews/{request_id}",
        f"/portal/requests/{request_id + 1}",
    ):
        assert brand.get(path).status_code == 404
    for path, data in (
        (f"/portal/requests/{request_id}/messages", {"kind": "comment", "body": "hi"}),
        (f"/portal/requests/{request_id}/withdraw", {}),
        (f"/portal/reviews/{request_id}/question", {"body": "?"}),
        (f"/portal/reviews/{request_id}/checklist", {"sso": "yes"}),
        (f"/portal/reviews/{request_id}/decision", {"outcome": "reject", "comment": "x"}),
    ):
        answer = post(brand, path, data)
        assert answer.status_code == 404, path
        assert "Brevo" not in text(answer)
    assert "Brevo" not in text(brand.get("/portal/requests?show=departments"))
    assert growth.get(f"/portal/reviews/{request_id}").status_code == 403


def test_what_a_requester_typed_is_shown_inert_to_reviewers(growth, reviewer):
    request_id = file_request(
        growth,
        vendor_name=f"Evil {SCRIPT}",
        website='https://evil.example/"><script>alert(1)</script>',
        justification=SCRIPT,
        expected_volume=SCRIPT,
    )
    post(reviewer, f"/portal/reviews/{request_id}/question", {"body": "ok?"})
    post(growth, f"/portal/requests/{request_id}/messages", {"kind": "answer", "body": SCRIPT})
    post(growth, f"/portal/requests/{request_id}/messages", {"kind": "comment", "body": SCRIPT})
    for path in ("/portal/reviews", f"/portal/reviews/{request_id}", "/portal/requests/new"):
        page = text(reviewer.get(path))
        assert "<script>alert" not in page and "<img src=x" not in page
    page = text(reviewer.get(f"/portal/reviews/{request_id}"))
    assert page.count(html.escape(SCRIPT, quote=False).replace('"', "&#34;")) >= 4


def test_a_reviewer_completes_the_checklist_and_approves_with_conditions(app, growth, reviewer):
    request_id = file_request(growth)
    refused = post(
        reviewer,
        f"/portal/reviews/{request_id}/checklist",
        {"processing_country": "Germany", "security_contact": "nobody", "notes": "kept"},
    )
    assert refused.status_code == 422
    page = text(refused)
    assert 'id="processing_country-error">must be a two-letter ISO 3166' in page
    assert 'value="Germany"' in page and ">kept</textarea>" in page
    saved = post(
        reviewer,
        f"/portal/reviews/{request_id}/checklist",
        {
            "dpa_signed": "2026-01-10",
            "processing_country": "ie",
            "transfer_basis": "adequacy",
            "no_subprocessors": "1",
            "retention_terms": "30 days",
            "deletion_terms": "On request",
            "sso": "yes",
            "mfa": "no",
            "security_contact": "sec@brevo.example",
            "cert-iso27001": "1",
            "cert-iso27001-until": "2027-01-01",
            "attachments": "https://brevo.example/dpa.pdf\n",
        },
    )
    assert saved.status_code == 302
    page = text(reviewer.get(f"/portal/reviews/{request_id}"))
    assert "complete</span>" in page and 'value="IE"' in page

    next_year = (date.today() + timedelta(days=365)).isoformat()
    decision = {
        "outcome": "approve_with_conditions",
        "comment": "Only for newsletters",
        "review_due": next_year,
        "tool-slug": "brevo",
        "tool-connector": "brevo",
        "tool-base_url": "",
        "grants-0-department": "",
        "grants-1-department": "growth",
        "grants-1-purposes": "nonsense.use",
        "grants-1-data_categories": "user.contact.email",
        "grants-1-mode": "redact",
        "grants-1-expires": next_year,
        "grants-1-limits-per_app": "100/fortnight",
        "grants-1-limits-per_department": "1000/hour, 10000/day",
    }
    refused = post(reviewer, f"/portal/reviews/{request_id}/decision", decision)
    assert refused.status_code == 422
    assert 'id="grants-1-purposes-error">not in fideslang: nonsense.use' in text(refused)
    assert ">Only for newsletters</textarea>" in text(refused)
    assert 'id="grants-1-limits-per_app-error">&#39;100/fortnight&#39; is not a rate limit' in (
        text(refused)
    )
    assert 'value="1000/hour, 10000/day"' in text(refused)
    decision["grants-1-purposes"] = "marketing.communications.email"
    decision["grants-1-limits-per_app"] = "100/minute"
    decided = post(reviewer, f"/portal/reviews/{request_id}/decision", decision)
    assert decided.status_code == 302, text(decided)
    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "brevo"))
        assert (tool.status.value, tool.country, tool.transfer_basis.value) == (
            "approved",
            "IE",
            "adequacy",
        )
        grant = db.session.scalar(select(Grant))
        assert (grant.department.slug, grant.mode.value) == ("growth", "redact")
        assert grant.limits == {
            "per_app": ["100/minute"],
            "per_department": ["1000/hour", "10000/day"],
        }
    seen = text(growth.get(f"/portal/requests/{request_id}"))
    assert "IT decided: approve with conditions" in seen and "Only for newsletters" in seen
    again = post(reviewer, f"/portal/reviews/{request_id}/decision", decision)
    assert again.status_code == 409


def test_the_queue_lists_what_waits_for_it(growth, reviewer):
    file_request(growth, vendor_name="Calm", urgency="low")
    file_request(growth, vendor_name="Blaze", urgency="critical")
    page = text(reviewer.get("/portal/reviews"))
    assert page.index("Blaze") < page.index("Calm")
    assert growth.get("/portal/reviews").status_code == 403


def test_a_nul_typed_into_any_form_is_refused_not_stored(growth, reviewer):
    request_id = file_request(growth)
    for client, path, data in (
        (growth, "/portal/requests/new", form(vendor_name="a\x00b", step="submit")),
        (growth, f"/portal/requests/{request_id}/messages", {"kind": "comment", "body": "\x00"}),
        (reviewer, f"/portal/reviews/{request_id}/checklist", {"notes": "x\x00"}),
        (reviewer, f"/portal/reviews/{request_id}/decision", {"grants-0-department": "\x00"}),
    ):
        answer = post(client, path, data)
        assert answer.status_code == 422, path
        assert "NUL character" in text(answer)


def test_the_decision_form_proposes_the_tool_already_known_for_the_vendor(app, growth, reviewer):
    apply(app, {"tools": [{"slug": "mc", "name": "Mailchimp", "connector": "brevo"}]})
    known = file_request(growth, vendor_name="MailChimp", website="https://mailchimp.com")
    new = file_request(growth, vendor_name="Brevo (Sendinblue)")
    assert 'name="tool-slug" value="mc"' in text(reviewer.get(f"/portal/reviews/{known}"))
    page = text(reviewer.get(f"/portal/reviews/{new}"))
    assert 'name="tool-slug" value="brevo-sendinblue"' in page

"""The catalog's portal pages with a signed-in user: search and filters, the tool page,
status changes with a reason, write-only credentials, re-reviews due, the history."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from catalog.history import ChangeEvent
from catalog.models import Tool
from gateway.db import db
from gateway.vault import vault_of
from tests.conftest import apply, demo_document
from tests.people import csrf_token, make_user, signed_in

ENV = {"MC_KEY": "stored-mailchimp-key-0123456789-us21"}
SCRIPT = '<script>alert("x")</script>'


@pytest.fixture
def catalog(app):
    document = demo_document("http://127.0.0.1:9")
    document["tools"][0].update(category="email", description=f"Newsletters {SCRIPT}")
    document["tools"].append(
        {
            "slug": "hubspot",
            "name": f"HubSpot {SCRIPT}",
            "connector": "hubspot",
            "category": "crm",
            "status": "suspended",
        }
    )
    apply(app, document, ENV)


def user(app, role: str, email: str | None = None):
    return signed_in(app, make_user(app, email or f"{role}@example.com", role, ("growth",)))


def page(client, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    return answer.get_data(as_text=True)


def test_a_marketer_finds_approved_tools_by_purpose(app, catalog):
    marketer = user(app, "marketer")
    html = page(marketer, "/portal/catalog?purpose=marketing.communications.email")
    assert "Mailchimp" in html and "HubSpot" not in html
    assert "Marketing Email Communications" in html  # a plain-language label
    assert 'id="status"' not in html  # marketers see approved tools only
    assert "No tool matches" in page(marketer, "/portal/catalog?q=salesforce")
    page(marketer, "/portal/tools/hubspot", 404)


def test_html_typed_in_tools_is_shown_inert(app, catalog):
    reviewer = user(app, "it_reviewer")
    for path in ("/portal/catalog", "/portal/tools/mailchimp", "/portal/tools/hubspot"):
        html = page(reviewer, path)
        assert SCRIPT not in html
    assert "&lt;script&gt;" in page(reviewer, "/portal/tools/mailchimp")
    assert SCRIPT not in page(reviewer, "/portal/history")


def test_the_tool_page_says_who_may_use_it_and_how_to_connect(app, catalog):
    html = page(user(app, "marketer"), "/portal/tools/mailchimp")
    assert "Growth" in html and "Marketing Communications" in html
    assert "http://localhost/proxy/mailchimp" in html
    assert "curl" in html and "$GATEHOUSE_KEY" in html
    assert "Suspend" not in html and "Vendor credentials" not in html
    assert "Recent changes" not in html  # marketers do not read the history


def test_a_reviewer_suspends_with_a_reason_after_confirming(app, catalog):
    reviewer = user(app, "it_reviewer")
    html = page(reviewer, "/portal/tools/mailchimp")
    assert "Recent changes" in html and "Suspend" in html
    confirm = page(reviewer, "/portal/tools/mailchimp/status/suspend")
    assert "refused at once" in confirm
    token = csrf_token(reviewer)
    refused = reviewer.post(
        "/portal/tools/mailchimp/status/suspend", data={"csrf_token": token, "reason": "  "}
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.get_data(as_text=True)
    done = reviewer.post(
        "/portal/tools/mailchimp/status/suspend",
        data={"csrf_token": token, "reason": "Vendor breach <b>"},
    )
    assert done.status_code == 302
    html = page(reviewer, "/portal/tools/mailchimp")
    assert "Suspended: Vendor breach &lt;b&gt;" in html
    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "mailchimp"))
        assert tool.status.value == "suspended"
    forged = reviewer.post("/portal/tools/mailchimp/status/reinstate", data={"reason": "x"})
    assert forged.status_code == 400


def test_others_cannot_change_a_status(app, catalog):
    for role in ("marketer", "auditor"):
        client = user(app, role)
        token = csrf_token(client)
        answer = client.post(
            "/portal/tools/mailchimp/status/suspend", data={"csrf_token": token, "reason": "x"}
        )
        assert answer.status_code == 403
    assert "Suspend" not in page(user(app, "auditor", "a2@example.com"), "/portal/tools/mailchimp")


def test_an_admin_stores_credentials_that_are_never_shown_again(app, catalog, caplog):
    admin = user(app, "admin")
    html = page(admin, "/portal/tools/mailchimp/credentials")
    assert "Stored: <code>••••" + ENV["MC_KEY"][-4:] in html
    assert ENV["MC_KEY"] not in html
    secret = "portal-typed-secret-0123456789abc"
    token = csrf_token(admin)
    answer = admin.post(
        "/portal/tools/mailchimp/credentials", data={"csrf_token": token, "api_key": secret}
    )
    assert answer.status_code == 302
    shown = page(admin, "/portal/tools/mailchimp") + page(admin, "/portal/history")
    assert secret not in shown and secret[:-4] not in shown and secret not in caplog.text
    assert "••••" + secret[-4:] in shown
    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "mailchimp"))
        assert vault_of(app).decrypt_json(tool.credentials_encrypted) == {"api_key": secret}
        event = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.id.desc())).first()
        assert (event.action, event.after) == ("credentials_rotated", {"fields": ["api_key"]})


def test_a_refused_credentials_form_does_not_echo_the_secret(app, catalog):
    admin = user(app, "admin")
    token = csrf_token(admin)
    answer = admin.post("/portal/tools/hubspot/credentials", data={"csrf_token": token})
    assert answer.status_code == 422
    assert "give at least one credential field" in answer.get_data(as_text=True)
    reviewer = user(app, "it_reviewer")
    assert reviewer.get("/portal/tools/hubspot/credentials").status_code == 403


def test_a_tool_without_credentials_is_waiting_for_them(app, catalog):
    html = page(user(app, "it_reviewer"), "/portal/tools/hubspot")
    assert "Waiting for credentials" in html


def test_reviews_due_lists_overdue_tools(app, catalog):
    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "mailchimp"))
        tool.review_due = date.today() - timedelta(days=2)
        db.session.commit()
    html = page(user(app, "it_reviewer"), "/portal/reviews-due?days=7")
    assert "Mailchimp" in html and "overdue" in html
    page(user(app, "marketer"), "/portal/reviews-due", 403)


def test_the_history_page_filters_and_links_the_export(app, catalog):
    auditor = user(app, "auditor")
    html = page(auditor, "/portal/history?object_type=tool&source=apply")
    assert html.count("<tr>") == 4  # header, mailchimp created and credentials, hubspot
    link = re.search(r'href="(/api/v1/history/export\?[^"]*format=csv[^"]*)"', html).group(1)
    export = auditor.get(link.replace("&amp;", "&"))
    assert export.status_code == 200
    assert export.get_data(as_text=True).startswith("id,occurred_at")
    assert page(auditor, "/portal/history?since=yesterday", 400)
    page(user(app, "marketer"), "/portal/history", 403)


def test_a_reviewer_sets_a_new_review_date_and_a_bad_field_keeps_what_was_typed(app, catalog):
    reviewer = user(app, "it_reviewer")
    form = page(reviewer, "/portal/tools/mailchimp/edit")
    assert 'value="Mailchimp"' in form and "&lt;script&gt;" in form
    token = csrf_token(reviewer)
    typed = {
        "csrf_token": token,
        "name": "Mailchimp",
        "category": "email",
        "description": "Newsletters",
        "country": "usa",
        "review_due": "2031-01-31",
    }
    refused = reviewer.post("/portal/tools/mailchimp/edit", data=typed)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="country-error"' in html and 'aria-invalid="true"' in html
    assert 'value="2031-01-31"' in html and 'value="usa"' in html
    saved = reviewer.post("/portal/tools/mailchimp/edit", data={**typed, "country": "US"})
    assert saved.status_code == 302
    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "mailchimp"))
        assert (tool.review_due, tool.country, tool.transfer_basis) == (
            date(2031, 1, 31),
            "US",
            None,
        )
        event = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.id.desc())).first()
        assert (event.source, event.actor_label) == ("portal", "it_reviewer@example.com")
        assert event.after["review_due"] == "2031-01-31"
    page(user(app, "marketer"), "/portal/tools/mailchimp/edit", 403)


def test_a_reviewer_edits_a_grant_and_a_wrong_term_is_shown_next_to_its_field(app, catalog):
    reviewer = user(app, "it_reviewer")
    assert "/portal/tools/mailchimp/grants/growth" in page(reviewer, "/portal/tools/mailchimp")
    form = page(reviewer, "/portal/tools/mailchimp/grants/growth")
    assert 'name="grant-purposes"' in form and 'name="grant-limits-per_app"' in form
    typed = {
        "csrf_token": csrf_token(reviewer),
        "grant-purposes": ["marketing.communications.email"],
        "grant-data_categories": ["user.contact.email"],
        "grant-mode": "redact",
        "grant-expires": "2031-06-30",
        "grant-limits-per_app": "100/minute, 5/fortnight",
        "grant-limits-per_department": "1000/hour",
    }
    refused = reviewer.post("/portal/tools/mailchimp/grants/growth", data=typed)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="grant-limits-per_app-error"' in html and "5/fortnight" in html
    assert 'value="1000/hour"' in html and 'value="2031-06-30"' in html
    nothing = reviewer.post(
        "/portal/tools/mailchimp/grants/growth", data={**typed, "grant-purposes": []}
    )
    assert 'id="grant-purposes-error"' in nothing.get_data(as_text=True)

    saved = reviewer.post(
        "/portal/tools/mailchimp/grants/growth",
        data={**typed, "grant-limits-per_app": "100/minute"},
    )
    assert saved.status_code == 302
    shown = page(reviewer, "/portal/tools/mailchimp")
    assert "each app: 100/minute" in shown and "department: 1000/hour" in shown
    assert "2031-06-30" in shown and "Other data is removed before it is sent." in shown
    with app.app_context():
        event = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.id.desc())).first()
        assert (event.object_type, event.action, event.source) == ("grant", "updated", "portal")
        assert event.after["limits"] == {"per_app": ["100/minute"], "per_department": ["1000/hour"]}


def test_only_reviewers_edit_grants_and_only_grants_that_exist(app, catalog):
    marketer = user(app, "marketer")
    assert "/grants/growth" not in page(marketer, "/portal/tools/mailchimp")
    page(marketer, "/portal/tools/mailchimp/grants/growth", 403)
    reviewer = user(app, "it_reviewer")
    page(reviewer, "/portal/tools/mailchimp/grants/sales", 404)
    page(reviewer, "/portal/tools/hubspot/grants/growth", 404)


def test_a_reviewer_withdraws_a_grant_after_a_page_that_says_what_it_does(app, catalog):
    reviewer = user(app, "it_reviewer")
    assert "/grants/growth/withdraw" in page(reviewer, "/portal/tools/mailchimp/grants/growth")
    confirm = page(reviewer, "/portal/tools/mailchimp/grants/growth/withdraw")
    assert "apps are refused from their next call to Mailchimp" in confirm
    page(user(app, "marketer"), "/portal/tools/mailchimp/grants/growth/withdraw", 403)

    done = reviewer.post(
        "/portal/tools/mailchimp/grants/growth/withdraw", data={"csrf_token": csrf_token(reviewer)}
    )
    assert done.status_code == 302
    assert "No department may use this tool yet." in page(reviewer, "/portal/tools/mailchimp")
    page(reviewer, "/portal/tools/mailchimp/grants/growth", 404)
    with app.app_context():
        event = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.id.desc())).first()
        assert (event.object_type, event.action, event.source) == ("grant", "deleted", "portal")
        assert event.before["purposes"] and event.after is None

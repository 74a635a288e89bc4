"""A tool's life through live gateways: a suspension refuses traffic within a second on
every instance, reinstating lets it through, a tool past its re-review date is refused,
stored credentials make a waiting tool callable at once, and apply and the portal edit
the same tool without undoing each other."""

from __future__ import annotations

import dataclasses
import time
from datetime import date, timedelta

import pytest
import requests
from sqlalchemy import select

from catalog.credentials import needs_credentials, store_credentials
from catalog.declarative import CatalogError
from catalog.errors import Forbidden
from catalog.history import ChangeEvent
from catalog.lifecycle import change_status, due_for_review
from catalog.models import Tool
from catalog.snapshot import SpecCache
from catalog.tools import find_tool
from gateway.app import create_app
from gateway.db import db
from gateway.identity.actors import Actor
from gateway.vault import vault_of
from tests.conftest import SANDBOX_MAILCHIMP_KEY, apply, close, demo_document, get_token, serve
from tests.people import csrf_token, make_user, signed_in

ENV = {"MC_KEY": SANDBOX_MAILCHIMP_KEY}
REVIEWER = Actor.for_user(1, "it@example.com", "it_reviewer", ())


def ping(gateway: str, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(f"{gateway}/proxy/mailchimp/ping", headers=headers, timeout=10)


@pytest.fixture
def second_instance(config):
    """Another gateway on the same database, refreshing its snapshot as production does."""
    app = create_app(dataclasses.replace(config, snapshot_max_age=1.0))
    live = serve(app)
    yield live.url
    live.stop()
    close(app)


def test_a_suspension_is_refused_by_every_instance_within_a_second(
    app, gateway, second_instance, demo
):
    token = get_token(gateway, demo)
    assert ping(second_instance, token).status_code == 200
    reviewer = signed_in(app, make_user(app, "it@example.com", "it_reviewer"))
    answer = reviewer.post(
        "/api/v1/tools/mailchimp/status",
        json={"status": "suspended", "reason": "vendor breach"},
        headers={"X-CSRFToken": csrf_token(reviewer)},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    suspended_at = time.monotonic()
    while ping(second_instance, token).status_code == 200:
        assert time.monotonic() - suspended_at <= 1.0, "still let through after a second"
        time.sleep(0.05)
    refused = ping(second_instance, token)
    assert refused.status_code == 403
    assert refused.json()["reasons"][0]["message"] == "tool 'mailchimp' is suspended, not approved"
    assert ping(gateway, token).status_code == 403

    answer = reviewer.post(
        "/api/v1/tools/mailchimp/status",
        json={"status": "approved", "reason": "vendor fixed it"},
        headers={"X-CSRFToken": csrf_token(reviewer)},
    )
    assert answer.status_code == 200
    assert ping(gateway, token).status_code == 200


def test_a_tool_past_its_review_date_is_refused(app, gateway, sandbox, demo):
    token = get_token(gateway, demo)
    with app.app_context():
        tool = find_tool(db.session, "mailchimp")
        tool.review_due = date.today() - timedelta(days=1)
        db.session.commit()
        assert [t.slug for t in due_for_review(db.session, within_days=0)] == ["mailchimp"]
    refused = ping(gateway, token)
    assert refused.status_code == 403
    assert "due for re-review" in refused.json()["reasons"][0]["message"]


def test_the_due_list_holds_tools_past_or_due_within_the_days(app):
    document = demo_document("http://127.0.0.1:9")
    today = date(2027, 3, 1)
    for slug, due, status in [
        ("late", "2027-02-01", "approved"),
        ("soon", "2027-03-20", "suspended"),
        ("later", "2027-06-01", "approved"),
        ("gone", "2027-01-01", "retired"),
    ]:
        document["tools"].append(
            {
                **document["tools"][0],
                "slug": slug,
                "name": slug.title(),
                "review_due": due,
                "status": status,
            }
        )
    apply(app, document, ENV)
    with app.app_context():
        due = due_for_review(db.session, within_days=30, today=today)
        assert [tool.slug for tool in due] == ["late", "soon"]


def test_storing_credentials_makes_a_waiting_tool_callable_at_once(app, gateway, sandbox, demo):
    token = get_token(gateway, demo)
    with app.app_context():
        tool = find_tool(db.session, "mailchimp")
        tool.credentials_encrypted, tool.credential_sources = None, {}
        db.session.commit()
        spec = SpecCache(app.extensions["gatehouse.config"].connector_folders).for_tool(tool)
        assert needs_credentials(tool, spec)
    assert ping(gateway, token).status_code != 200
    admin = Actor.for_user(2, "admin@example.com", "admin", ())
    with app.app_context():
        tool = find_tool(db.session, "mailchimp")
        store_credentials(
            db.session,
            admin,
            "portal",
            tool,
            spec,
            {"api_key": ENV["MC_KEY"]},
            vault_of(app),
        )
        db.session.commit()
        assert not needs_credentials(tool, spec)
    assert ping(gateway, token).status_code == 200


def test_a_reviewer_without_the_permission_cannot_store_credentials(app):
    apply(app, demo_document("http://127.0.0.1:9"), ENV)
    with app.app_context():
        tool = find_tool(db.session, "mailchimp")
        spec = SpecCache(app.extensions["gatehouse.config"].connector_folders).for_tool(tool)
        with pytest.raises(Forbidden, match="credentials:write"):
            store_credentials(db.session, REVIEWER, "api", tool, spec, {"api_key": "x"}, None)


def test_apply_leaves_what_the_portal_set_and_records_nothing_when_nothing_changed(app):
    document = demo_document("http://127.0.0.1:9")
    apply(app, document, ENV)
    with app.app_context():
        tool = find_tool(db.session, "mailchimp")
        change_status(db.session, REVIEWER, "portal", tool, "suspended", "breach")
        tool.description = "Set in the portal"
        db.session.commit()
        events_before = db.session.query(ChangeEvent).count()
    document["tools"][0].pop("status")  # the file no longer owns the status
    assert apply(app, document, ENV).changes == []
    with app.app_context():
        tool = db.session.scalar(select(Tool))
        assert (tool.status.value, tool.description) == ("suspended", "Set in the portal")
        assert db.session.query(ChangeEvent).count() == events_before

    document["tools"][0]["name"] = "Mailchimp Marketing"  # a key the file gives wins
    assert apply(app, document, ENV).changes == ["updated tool mailchimp: name"]
    with app.app_context():
        [event] = db.session.scalars(
            select(ChangeEvent).where(
                ChangeEvent.source == "apply", ChangeEvent.action == "updated"
            )
        ).all()
        assert (event.before, event.after) == (
            {"name": "Mailchimp"},
            {"name": "Mailchimp Marketing"},
        )
        assert event.actor_label.endswith("(apply)")


def test_apply_cannot_bring_back_a_retired_tool(app):
    document = demo_document("http://127.0.0.1:9")
    apply(app, document, ENV)
    with app.app_context():
        change_status(
            db.session, REVIEWER, "portal", find_tool(db.session, "mailchimp"), "retired", "gone"
        )
        db.session.commit()
    with pytest.raises(CatalogError, match="retired, which is final"):
        apply(app, document, ENV)


def test_apply_records_each_change_once_with_the_apply_actor(app):
    document = demo_document("http://127.0.0.1:9")
    apply(app, document, ENV)
    apply(app, document, ENV)
    with app.app_context():
        events = db.session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)).all()
    assert [(e.object_type, e.action) for e in events] == [
        ("department", "created"),
        ("tool", "created"),
        ("tool", "credentials_stored"),
        ("grant", "created"),
        ("app", "created"),
    ]
    assert {e.source for e in events} == {"apply"}
    assert ENV["MC_KEY"] not in str([(e.before, e.after) for e in events])

"""`gatehouse apply` semantics: validation, idempotence, export round trip, secrets."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from catalog.declarative import CatalogError, apply_document, export_document
from catalog.models import Tool, ToolStatus
from gateway.db import db, read_versions
from gateway.vault import vault_of
from tests.conftest import apply, demo_document

ENV = {"MC_KEY": "secret-key-value-us21"}


def test_applying_twice_changes_nothing(app):
    document = demo_document("http://127.0.0.1:9001")
    first = apply(app, document, ENV)
    assert first.changes == [
        "created department growth",
        "created tool mailchimp",
        "created grant growth -> mailchimp",
        "created client newsletter-app",
    ]
    assert len(first.new_clients) == 1
    with app.app_context():
        versions = read_versions(db.session)
    second = apply(app, document, ENV)
    assert second.changes == []
    assert second.new_clients == []
    with app.app_context():
        assert read_versions(db.session) == versions


def test_export_round_trips_without_secrets(app):
    apply(app, demo_document("http://127.0.0.1:9001"), ENV)
    with app.app_context():
        exported = export_document(db.session)
    assert exported["tools"][0]["credentials"] == {"api_key": "from-env:MC_KEY"}
    assert ENV["MC_KEY"] not in str(exported)
    assert apply(app, exported, ENV).changes == []


def test_changes_are_reported_per_field(app):
    document = demo_document("http://127.0.0.1:9001")
    apply(app, document, ENV)
    document["tools"][0]["status"] = "suspended"
    document["grants"][0]["expires"] = "2027-12-31"
    report = apply(app, document, {"MC_KEY": "rotated-key"})
    assert report.changes == [
        "updated tool mailchimp: status, credentials",
        "updated grant growth -> mailchimp: expires",
    ]
    with app.app_context():
        tool = db.session.scalar(select(Tool))
        assert tool.status is ToolStatus.SUSPENDED
        assert vault_of(app).decrypt_json(tool.credentials_encrypted) == {"api_key": "rotated-key"}


def test_credentials_are_stored_encrypted(app):
    apply(app, demo_document("http://127.0.0.1:9001"), ENV)
    with app.app_context():
        dump = db.session.execute(text("SELECT * FROM tools")).all()
    assert ENV["MC_KEY"] not in str(dump)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tools"][0].update(status="live"), "/tools/0/status: 'live' is not one of"),
        (
            lambda d: d["tools"][0].update(connector="nosuch"),
            "/tools/0/connector: no connector 'nosuch'",
        ),
        (
            lambda d: d["tools"][0].pop("base_url"),
            "/tools/0/base_url: connector 'mailchimp' has no fixed",
        ),
        (
            lambda d: d["tools"][0].update(credentials={"token": "x"}),
            "['token'] not used by connector",
        ),
        (lambda d: d["grants"][0].update(tool="ghost"), "/grants/0/tool: no tool 'ghost'"),
        (
            lambda d: d["grants"][0].update(expires="soon"),
            "/grants/0/expires: 'soon' does not match",
        ),
        (lambda d: d.update(extra=1), "(top): Additional properties are not allowed"),
        (
            lambda d: d["clients"][0].update(scopes=["admin"]),
            "/clients/0/scopes/0: 'admin' is not one of",
        ),
    ],
)
def test_invalid_documents_are_refused_with_their_location(app, change, message):
    document = demo_document("http://127.0.0.1:9001")
    change(document)
    with app.app_context(), pytest.raises(CatalogError) as error:
        apply_document(db.session, document, vault_of(app), ENV)
    assert message in str(error.value)
    with app.app_context():
        assert db.session.scalar(select(Tool)) is None


def test_missing_environment_variable_is_named(app):
    with (
        app.app_context(),
        pytest.raises(CatalogError, match="environment variable MC_KEY is not set"),
    ):
        apply_document(db.session, demo_document("http://x"), vault_of(app), {})

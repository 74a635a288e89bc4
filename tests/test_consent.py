"""The consent registry's API (for a CMP) and `gatehouse consent import` (for a backfill)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from gateway.db import db
from policies.consent import ConsentEvent, ConsentImport
from policies.subjects import subject_key
from tests.conftest import apply, demo_document, get_token

GATEHOUSE = str(Path(sys.executable).with_name("gatehouse"))


@pytest.fixture
def cmp(app, gateway, sandbox) -> str:
    """A token of the consent management platform's client."""
    document = demo_document(sandbox)
    document["clients"] = [
        {"name": "cmp", "department": "growth", "scopes": ["consent:write", "consent:read"]},
        {"name": "app", "department": "growth", "scopes": ["proxy"]},
    ]
    report = apply(app, document, {"MC_KEY": "k"})
    return {c.name: get_token(gateway, c) for c in report.new_clients}


def api(gateway, token, method, path, **kwargs):
    return requests.request(
        method,
        f"{gateway}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        **kwargs,
    )


def test_a_cmp_records_and_reads_consent(gateway, cmp):
    recorded = api(
        gateway,
        cmp["cmp"],
        "POST",
        "/consent/events",
        json={
            "email": " Ada@Example.com",
            "purpose": "marketing.communications.email",
            "status": "granted",
            "source": "cmp-banner",
            "evidence": "TCSTRING-REF-1",
        },
    )
    assert recorded.status_code == 201, recorded.text
    api(
        gateway,
        cmp["cmp"],
        "POST",
        "/consent/events",
        json={
            "events": [
                {
                    "email": "ada@example.com",
                    "purpose": "marketing.communications.email",
                    "status": "withdrawn",
                    "source": "preference-centre",
                }
            ]
        },
    )
    states = api(gateway, cmp["cmp"], "GET", "/consent", params={"email": "ada@example.com"})
    assert states.status_code == 200
    body = states.json()
    assert body["subject_key"] == subject_key(b"test-pepper", "email", "ada@example.com")
    assert [(s["purpose"], s["status"]) for s in body["states"]] == [
        ("marketing.communications.email", "withdrawn")
    ]
    assert "ada" not in json.dumps(body)


def test_an_older_event_never_overrides_a_newer_one(gateway, cmp):
    for status, when in (
        ("withdrawn", "2026-06-01T00:00:00Z"),
        ("granted", "2026-01-01T00:00:00Z"),
    ):
        api(
            gateway,
            cmp["cmp"],
            "POST",
            "/consent/events",
            json={
                "email": "ada@example.com",
                "purpose": "marketing",
                "status": status,
                "source": "import",
                "occurred_at": when,
            },
        )
    states = api(gateway, cmp["cmp"], "GET", "/consent", params={"email": "ada@example.com"})
    assert states.json()["states"][0]["status"] == "withdrawn"


def test_bad_events_are_refused_whole_with_each_problem(app, gateway, cmp):
    response = api(
        gateway,
        cmp["cmp"],
        "POST",
        "/consent/events",
        json={
            "events": [
                {
                    "email": "ada@example.com",
                    "purpose": "marketing",
                    "status": "granted",
                    "source": "x",
                },
                {"email": "nobody", "purpose": "marketing", "status": "granted", "source": "x"},
                {
                    "phone": "+442079460958",
                    "purpose": "mind.reading",
                    "status": "granted",
                    "source": "x",
                },
            ]
        },
    )
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == [
        "/events/1/email",
        "/events/2/purpose",
    ]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ConsentEvent)) == 0


def test_scopes_are_enforced(gateway, cmp):
    body = {"email": "a@example.com", "purpose": "marketing", "status": "granted", "source": "x"}
    assert api(gateway, cmp["app"], "POST", "/consent/events", json=body).status_code == 403
    assert (
        api(gateway, "forged", "GET", "/consent", params={"email": "a@example.com"}).status_code
        == 401
    )
    assert requests.get(f"{gateway}/api/v1/consent", timeout=10).status_code == 401


def test_the_api_is_described_by_openapi(gateway, app):
    document = requests.get(f"{gateway}/api/v1/openapi.json", timeout=10).json()
    assert document["openapi"] == "3.1.0"
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
    }
    assert routes == set(document["paths"])


CSV = """email,phone,purpose,status,source,occurred_at,expires_at
ada@example.com,,marketing.communications.email,granted,signup-form,2026-05-01T10:00:00Z,
,+44 20 7946 0958,marketing.communications.sms,granted,shop,2026-05-02T10:00+01:00,2027-05-02T10:00Z
bob@example.com,,marketing.telepathy,granted,signup-form,2026-05-01T10:00:00Z,
carol@example.com,,marketing,maybe,signup-form,2026-05-01T10:00:00Z,
dan@example.com,,marketing,granted,signup-form,yesterday,
,,marketing,granted,signup-form,2026-05-01T10:00:00Z,
eve@example.com,,marketing,withdrawn,preference-centre,2026-05-03T10:00:00Z,
"""


def events(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ConsentEvent))


def test_import_reports_bad_rows_and_goes_on(app, cli, tmp_path):
    path = tmp_path / "consents.csv"
    path.write_text(CSV)
    result = cli("consent", "import", str(path))
    assert result.returncode == 1
    assert "recorded 3 consent events; 4 bad rows skipped" in result.stdout
    for line, problem in (
        (4, "not a fideslang data use"),
        (5, "granted or withdrawn"),
        (6, "ISO 8601"),
        (7, "exactly one of"),
    ):
        assert f"consents.csv:{line}: " in result.stderr and problem in result.stderr
    assert events(app) == 3
    again = cli("consent", "import", str(path))
    assert "resuming after line 8" in again.stderr
    assert events(app) == 3


def test_import_resumes_where_it_stopped(app, cli, tmp_path):
    path = tmp_path / "consents.jsonl"
    rows = [
        {
            "email": f"p{i}@example.com",
            "purpose": "marketing",
            "status": "granted",
            "source": "backfill",
            "occurred_at": "2026-01-01T00:00:00Z",
        }
        for i in range(10)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    first = cli("consent", "import", str(path), "--batch-size", "4")
    assert first.returncode == 0, first.stderr
    assert events(app) == 10
    with app.app_context():  # as if the import had died after its first batch
        progress = db.session.scalars(select(ConsentImport)).one()
        progress.lines_done = 4
        kept = db.session.scalars(select(ConsentEvent.id).order_by(ConsentEvent.id).limit(4)).all()
        db.session.execute(ConsentEvent.__table__.delete().where(ConsentEvent.id.not_in(kept)))
        db.session.commit()
    resumed = cli("consent", "import", str(path), "--batch-size", "4")
    assert "resuming after line 4" in resumed.stderr
    assert "recorded 6 consent events" in resumed.stdout
    assert events(app) == 10

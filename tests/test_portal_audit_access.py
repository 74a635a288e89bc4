"""Auditors read and change nothing: the auditors' pages hold no form that writes, other
roles are refused them, and every write endpoint of the portal and the API refuses an
auditor's session, with or without the portal's CSRF token, leaving the database as it
was."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from catalog.shadow_it.models import Finding, UnknownName
from catalog.shadow_it.recording import run_scan
from gateway.db import Base, db
from gateway.oauth.models import Client
from tests.people import csrf_token, make_user, signed_in
from tests.requesting import new_request
from tests.shadow_it_catalog import SAMPLES, sample_context
from tests.test_audit import logged  # noqa: F401  (the fixture)

AUDIT_PAGES = (
    "/portal/exchanges",
    "/portal/exchanges/1",
    "/portal/audit/people?email=ada@example.com",
    "/portal/audit/processing",
    "/portal/audit/withdrawals",
    "/portal/audit/exports",
    "/portal/audit/chain?from_seq=1",
    "/portal/audit/trail",
)
#: Writes to the signed-in person's own session or password, not to the gateway's data.
OWN_SESSION = {"portal.sign_in", "portal.sign_out", "portal.single_sign_on", "portal.set_password"}
#: Values of path parameters naming things that exist (the rest are in ``existing``).
PATH_VALUES = {"slug": "mailchimp", "tool": "mailchimp", "department": "growth", "step": "suspend"}
#: What a forged form or body holds: enough that only the permission can refuse it.
FORGED = {"reason": "forged", "kind": "comment", "body": "forged", "name": "forged"}
FORM = re.compile(r"<form\b[^>]*>", re.IGNORECASE)


@pytest.fixture
def existing(logged) -> dict[str, str]:  # noqa: F811
    """A tool request, an app with a key, a user and shadow-IT findings, for the paths that
    name one."""
    marketer_id = make_user(logged, "mia@example.com", "marketer", ("growth",))
    marketer = signed_in(logged, marketer_id)
    header = {"X-CSRFToken": csrf_token(marketer)}
    filed = marketer.post("/api/v1/tool-requests", json=new_request(), headers=header)
    assert filed.status_code == 201, filed.json
    with logged.app_context():
        app_id = db.session.scalar(select(Client.id))
        run_scan(
            db.session, [(SAMPLES / "squid_access.log", "auto")], sample_context(db.session), 3
        )
        db.session.commit()
        finding_id = db.session.scalar(select(Finding.id).limit(1))
        unknown_id = db.session.scalar(select(UnknownName.id).limit(1))
    key = marketer.post(f"/api/v1/apps/{app_id}/keys", json={"name": "k"}, headers=header)
    assert key.status_code == 201, key.json
    return {
        "request_id": str(filed.json["id"]),
        "app_id": str(app_id),
        "key_id": key.json["key"]["key_id"],
        "user_id": str(marketer_id),
        "finding_id": str(finding_id),
        "unknown_id": str(unknown_id),
    }


def write_endpoints(app, existing: dict[str, str]) -> list[tuple[str, str]]:
    """(method, path) of every rule of the portal and the API that changes something."""
    values = {**PATH_VALUES, **existing}
    found = []
    for rule in app.url_map.iter_rules():
        writes = sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})
        if not writes or rule.endpoint in OWN_SESSION:
            continue
        if not rule.rule.startswith(("/portal/", "/api/")):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m[1]], rule.rule)
        found += [(method, path) for method in writes]
    return found


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


def test_the_auditors_pages_hold_no_form_that_writes(logged):  # noqa: F811
    auditor = signed_in(logged, make_user(logged, "aude@example.com", "auditor"))
    for path in AUDIT_PAGES:
        page = auditor.get(path)
        assert page.status_code == 200, path
        main = page.get_data(as_text=True).split('<main id="main"', 1)[1]
        forms = FORM.findall(main)
        assert all('method="get"' in form for form in forms), (path, forms)


@pytest.mark.parametrize("role", ["marketer", "it_reviewer", "admin"])
def test_other_roles_are_refused_the_auditors_pages(logged, role):  # noqa: F811
    departments = ("growth",) if role == "marketer" else ()
    client = signed_in(logged, make_user(logged, f"{role}@example.com", role, departments))
    for path in AUDIT_PAGES:
        assert client.get(path).status_code == 403, path
    assert 'aria-label="Audit"' not in client.get("/portal/").get_data(as_text=True)
    assert ">Audit</a>" not in client.get("/portal/").get_data(as_text=True)


def test_an_auditor_is_refused_every_write(logged, existing):  # noqa: F811
    auditor = signed_in(logged, make_user(logged, "aude@example.com", "auditor"))
    token = csrf_token(auditor)
    before = row_counts(logged)
    endpoints = write_endpoints(logged, existing)
    assert len(endpoints) > 30  # the portal's forms and the API's writes
    for method, path in endpoints:
        forged = auditor.open(path, method=method, data=FORGED)
        assert forged.status_code in (400, 403), (method, path, forged.status_code)
        if path.startswith("/portal/"):
            with_token = auditor.open(path, method=method, data={**FORGED, "csrf_token": token})
        else:
            with_token = auditor.open(
                path, method=method, json=FORGED, headers={"X-CSRFToken": token}
            )
        assert with_token.status_code == 403, (method, path, with_token.status_code)
    assert row_counts(logged) == before
    proxied = auditor.post("/proxy/mailchimp/lists", json={}, headers={"X-CSRFToken": token})
    assert proxied.status_code == 401  # the proxy takes an app's token, never a session

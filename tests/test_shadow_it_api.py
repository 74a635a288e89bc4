"""`/api/v1/shadow-it/...` over real HTTP: pages of findings with filters, one finding,
marking it (recorded in the history), exports, unknown names, and who may do so."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from catalog.history import ChangeEvent
from catalog.shadow_it.recording import run_scan
from gateway.db import db
from tests.conftest import get_token, register_test_app
from tests.people import make_user
from tests.shadow_it_catalog import SAMPLES, add_sample_tools, sample_context


@pytest.fixture
def scanned(app):
    make_user(app, "it@example.com", "it_reviewer", ("growth",))
    with app.app_context():
        add_sample_tools(db.session)
        samples = [(SAMPLES / "squid_access.log", "auto"), (SAMPLES / "card_expenses.csv", "auto")]
        run_scan(db.session, samples, sample_context(db.session), 3)
        db.session.commit()


def _api(gateway: str, token: str, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(
        method, f"{gateway}/api/v1{path}", headers=headers, timeout=10, **kwargs
    )


def test_pages_filters_marks_and_exports(app, gateway, scanned):
    token = get_token(gateway, register_test_app(app, "it-tools", ["shadow_it:review"]))
    first = _api(gateway, token, "GET", "/shadow-it/findings?limit=3").json()
    rest = _api(gateway, token, "GET", f"/shadow-it/findings?limit=3&cursor={first['next_cursor']}")
    assert rest.json()["next_cursor"] is None
    found = first["items"] + rest.json()["items"]
    assert sorted((f["vendor"]["slug"], f["department"], f["state"]) for f in found) == [
        ("hotjar", "marketing", "not_in_catalog"),
        ("hotjar", "sales", "not_in_catalog"),
        ("hubspot", "sales", "suspended"),
        ("mailchimp", "marketing", "bypassing"),
    ]
    hubspot = next(f for f in found if f["vendor"]["slug"] == "hubspot")
    assert (hubspot["requests"], hubspot["spend"], hubspot["kinds"]) == (
        4,
        {"EUR": "2000.50"},
        ["api", "app", "merchant"],
    )

    [bypass] = _api(gateway, token, "GET", "/shadow-it/findings?state=bypassing").json()["items"]
    marked = _api(
        gateway, token, "PATCH", f"/shadow-it/findings/{bypass['id']}", json={"status": "ignored"}
    )
    assert marked.status_code == 200 and marked.json()["status"] == "ignored"
    ignored = _api(gateway, token, "GET", "/shadow-it/findings?status=ignored").json()["items"]
    assert [f["id"] for f in ignored] == [bypass["id"]]
    with app.app_context():
        change = db.session.query(ChangeEvent).filter_by(object_type="shadow_it_finding").one()
        assert (change.before, change.after, change.source) == (
            {"status": "new"},
            {"status": "ignored"},
            "api",
        )

    exported = _api(gateway, token, "GET", "/shadow-it/findings/export?format=csv&vendor=hotjar")
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(row["department"] for row in rows) == ["marketing", "sales"]
    as_json = _api(gateway, token, "GET", "/shadow-it/findings/export").json()
    assert len(as_json) == 4

    unknown = _api(gateway, token, "GET", "/shadow-it/unknown").json()["items"]
    assert [(u["kind"], u["name"], u["hits"]) for u in unknown] == [
        ("merchant", "ACME WIDGETS SAAS", 3),
        ("domain", "unknownsaas.io", 3),
    ]
    acme = unknown[0]["id"]
    classified = _api(
        gateway, token, "PATCH", f"/shadow-it/unknown/{acme}", json={"status": "ignored"}
    )
    assert classified.json()["status"] == "ignored"
    unknown = _api(gateway, token, "GET", "/shadow-it/unknown").json()["items"]
    assert [(u["name"], u["status"]) for u in unknown] == [
        ("unknownsaas.io", "new"),
        ("ACME WIDGETS SAAS", "ignored"),
    ]
    assert (
        _api(
            gateway, token, "PATCH", "/shadow-it/unknown/999", json={"status": "known"}
        ).status_code
        == 404
    )


def test_refusals_are_problem_documents(app, gateway, scanned):
    token = get_token(gateway, register_test_app(app, "it-tools", ["shadow_it:review"]))
    [finding] = _api(gateway, token, "GET", "/shadow-it/findings?state=suspended").json()["items"]
    bad = _api(
        gateway, token, "PATCH", f"/shadow-it/findings/{finding['id']}", json={"status": "gone"}
    )
    assert bad.status_code == 422
    assert bad.headers["Content-Type"] == "application/problem+json"
    assert _api(gateway, token, "GET", "/shadow-it/findings/99999").status_code == 404
    assert _api(gateway, token, "GET", "/shadow-it/findings?state=hidden").status_code == 400
    assert _api(gateway, token, "GET", "/shadow-it/findings?cursor=nonsense").status_code == 400

    reader = get_token(gateway, register_test_app(app, "catalog-reader", ["catalog:read"]))
    refused = _api(gateway, reader, "GET", "/shadow-it/findings")
    assert refused.status_code == 403

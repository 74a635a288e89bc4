"""The portal's shadow-IT page: IT sees the findings and unknown names, turns a finding
into a prefilled request, marks one known or ignored; marketing cannot see the page."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from catalog.shadow_it.models import Finding, UnknownName
from catalog.shadow_it.recording import run_scan
from gateway.db import db
from tests.people import csrf_token, make_user, signed_in
from tests.shadow_it_catalog import SAMPLES, add_sample_tools, sample_context


@pytest.fixture
def reviewer(app):
    user = make_user(app, "it@example.com", "it_reviewer", ("marketing", "sales"))
    with app.app_context():
        add_sample_tools(db.session)
        samples = [(SAMPLES / "squid_access.log", "auto")]
        run_scan(db.session, samples, sample_context(db.session), 3)
        db.session.commit()
    return signed_in(app, user)


def _finding(app, vendor: str, department: str) -> Finding:
    with app.app_context():
        return db.session.query(Finding).filter_by(vendor_slug=vendor, department=department).one()


def _request_link(page: str, finding: Finding) -> str | None:
    row = re.search(rf'<tr id="finding-{finding.id}">(.*?)</tr>', page, re.S).group(1)
    found = re.search(r'href="(/portal/requests/new\?[^"]+)"', row)
    return html.unescape(found.group(1)) if found else None


def test_findings_page_links_a_prefilled_request(app, reviewer):
    page = reviewer.get("/portal/shadow-it").get_data(as_text=True)
    assert "4 findings." in page
    assert "unknownsaas.io" in page
    assert "/api/v1/shadow-it/findings/export?format=csv" in page
    link = _request_link(page, _finding(app, "hotjar", "marketing"))
    query = parse_qs(urlsplit(link).query)
    assert query["vendor_name"] == ["Hotjar"]
    assert query["website"] == ["https://hotjar.com"]
    assert query["category"] == ["analytics"]
    assert query["departments"] == ["marketing"]
    assert query["data_categories"] == ["user.device", "user.behavior"]

    form = reviewer.get(link).get_data(as_text=True)
    assert 'value="Hotjar"' in form and 'value="https://hotjar.com"' in form
    assert '<option value="analytics" selected>' in form
    assert re.search(r'value="marketing"[^>]*checked', form)
    assert "shadow-IT finding #" in form
    # Mailchimp is approved: its bypass is no request to make
    assert _request_link(page, _finding(app, "mailchimp", "marketing")) is None


def test_marking_a_finding_ignored(app, reviewer):
    hubspot = _finding(app, "hubspot", "sales")
    answer = reviewer.post(
        f"/portal/shadow-it/{hubspot.id}/status",
        data={"status": "ignored", "csrf_token": csrf_token(reviewer)},
    )
    assert answer.status_code == 302
    assert _finding(app, "hubspot", "sales").status.value == "ignored"
    ignored = reviewer.get("/portal/shadow-it?status=ignored").get_data(as_text=True)
    assert "1 finding." in ignored and "HubSpot" in ignored

    refused = reviewer.post(
        f"/portal/shadow-it/{hubspot.id}/status",
        data={"status": "forgotten", "csrf_token": csrf_token(reviewer)},
    )
    assert refused.status_code == 422
    forged = reviewer.post(f"/portal/shadow-it/{hubspot.id}/status", data={"status": "new"})
    assert forged.status_code in (400, 403)
    assert _finding(app, "hubspot", "sales").status.value == "ignored"


def test_marketing_cannot_see_findings(app, reviewer):
    marketer = signed_in(app, make_user(app, "m@example.com", "marketer", ("marketing",)))
    assert marketer.get("/portal/shadow-it").status_code == 403
    assert "Shadow IT" not in marketer.get("/portal/").get_data(as_text=True)


def test_classifying_an_unknown_domain(app, reviewer):
    with app.app_context():
        [unknown] = db.session.query(UnknownName).all()
    answer = reviewer.post(
        f"/portal/shadow-it/unknown/{unknown.id}/status",
        data={"status": "known", "csrf_token": csrf_token(reviewer)},
    )
    assert answer.status_code == 302
    page = reviewer.get("/portal/shadow-it").get_data(as_text=True)
    row = re.search(rf'<tr id="unknown-{unknown.id}">(.*?)</tr>', page, re.S).group(1)
    assert "unknownsaas.io" in row and "badge-finding-known" in row

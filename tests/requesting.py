"""Helpers of the tool-request tests: people signed in over HTTP, requests, checklists."""

from __future__ import annotations

import re
from datetime import date, timedelta

import requests

from tests.people import make_user

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
PASSWORD = "a long enough password"


def signed_in_over_http(gateway: str, app, email: str, role: str, departments=()):
    """A browser-like session of a new user on the live gateway, sending the CSRF header."""
    make_user(app, email, role, tuple(departments), password=PASSWORD)
    browser = requests.Session()
    page = browser.get(f"{gateway}/portal/sign-in", timeout=10).text
    token = _CSRF_META.search(page).group(1)
    signed = browser.post(
        f"{gateway}/portal/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert signed.status_code == 302, signed.text
    # Signing in starts a new session, with a token of its own.
    home = browser.get(f"{gateway}/portal/", timeout=10).text
    browser.headers["X-CSRFToken"] = _CSRF_META.search(home).group(1)
    return browser


def sign_in_people(gateway: str, app) -> dict[str, requests.Session]:
    """A Growth marketer, a Brand marketer and an IT reviewer, each signed in over HTTP."""
    return {
        "growth": signed_in_over_http(gateway, app, "g@example.com", "marketer", ["growth"]),
        "brand": signed_in_over_http(gateway, app, "b@example.com", "marketer", ["brand"]),
        "it": signed_in_over_http(gateway, app, "it@example.com", "it_reviewer"),
    }


def api(gateway: str) -> str:
    return f"{gateway}/api/v1/tool-requests"


def new_request(**changes) -> dict:
    return {
        "vendor_name": "Brevo",
        "website": "https://www.brevo.com",
        "category": "email",
        "purposes": ["marketing.communications.email"],
        "data_categories": ["user.contact.email", "user.name"],
        "departments": ["growth"],
        "justification": "Transactional e-mail for the spring campaign",
        "expected_volume": "20k contacts a month",
        "urgency": "high",
        "desired_date": (date.today() + timedelta(days=30)).isoformat(),
        "connector": "brevo",
        **changes,
    }


def complete_checklist(**changes) -> dict:
    """Every required answer of the vendor-risk checklist, and a few optional ones."""
    return {
        "dpa_signed": "2026-01-15",
        "processing_country": "US",
        "transfer_basis": "dpf",
        "certifications": [{"name": "soc2", "valid_until": "2027-06-30"}],
        "subprocessors": ["AWS", "Cloudflare"],
        "retention_terms": "Deleted 30 days after the contract ends",
        "deletion_terms": "On request within 7 days",
        "sso": True,
        "mfa": True,
        "security_contact": "security@vendor.example",
        "notes": "Reviewed with the DPO",
        "attachments": ["https://vendor.example/dpa.pdf"],
        **changes,
    }

"""Policy and consent over real HTTP: what the vendor receives, and what the log says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.db import db
from policies.subjects import subject_key
from tests.conftest import apply, demo_document, get_token, grant_consent, sandbox_requests

BATCH = "/proxy/mailchimp/lists/a1b2c3d4e5"
MEMBERS = "/proxy/mailchimp/lists/a1b2c3d4e5/members"
ADS = "marketing.advertising.third_party.targeted"
TC = {
    f["name"]: f["tc_string"]
    for f in json.loads((Path(__file__).parent / "fixtures/tcf/strings.json").read_text())
}


def key(email: str) -> str:
    return subject_key(b"test-pepper", "email", email)


def last_record(app) -> ExchangeRecord:
    with app.app_context():
        return db.session.scalars(
            select(ExchangeRecord).order_by(ExchangeRecord.seq.desc())
        ).first()


def member(email: str, **fields) -> dict:
    return {"email_address": email, "status": "subscribed", **fields}


@pytest.fixture
def token(gateway, demo) -> str:
    """The demo app's token; Ada and Alan consented to e-mail marketing."""
    return get_token(gateway, demo)


def post(gateway: str, token: str, path: str, body: dict, **headers) -> requests.Response:
    return requests.post(
        gateway + path,
        json=body,
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=10,
    )


def test_a_batch_reaches_the_vendor_without_the_people_who_did_not_consent(
    app, gateway, sandbox, token
):
    grant_consent(app, "marketing.communications.email", "carol@example.com", status="withdrawn")
    body = {
        "members": [
            member(e)
            for e in ("ada@example.com", "bob@example.com", "carol@example.com", "alan@example.com")
        ]
    }
    response = post(gateway, token, BATCH, body)
    assert response.status_code == 200, response.text
    assert response.headers["Gatehouse-Decision"] == "redact"
    [received] = sandbox_requests(sandbox)
    sent = [m["email_address"] for m in json.loads(received["body"])["members"]]
    assert sent == ["ada@example.com", "alan@example.com"]

    record = last_record(app)
    assert record.decision == "redact"
    assert {reason["message"].split(":")[0] for reason in record.reasons} == {
        "/members/1/email_address",
        "/members/2/email_address",
    }
    with app.app_context():
        rows = db.session.execute(
            select(ExchangeSubject.subject_key, ExchangeSubject.dropped).where(
                ExchangeSubject.exchange_seq == record.seq
            )
        ).all()
    assert dict(rows) == {
        key("ada@example.com"): False,
        key("alan@example.com"): False,
        key("bob@example.com"): True,
        key("carol@example.com"): True,
    }
    assert len(record.consent_event_ids) == 2


def test_a_batch_with_nobody_consenting_is_refused(app, gateway, sandbox, token):
    response = post(gateway, token, BATCH, {"members": [member("bob@example.com")]})
    assert response.status_code == 403
    body = response.json()
    assert body["reasons"][-1] == {
        "rule": "consent",
        "message": "no person in the batch may receive this",
    }
    assert sandbox_requests(sandbox) == []


def test_withdrawal_takes_effect_on_the_next_call(app, gateway, sandbox, token):
    assert post(gateway, token, MEMBERS, member("ada@example.com")).status_code == 200
    grant_consent(app, "marketing.communications.email", "ada@example.com", status="withdrawn")
    response = post(gateway, token, MEMBERS, member("ada@example.com"))
    assert response.status_code == 403
    assert response.json()["reasons"] == [
        {
            "rule": "consent",
            "message": "/email_address: consent for 'marketing.communications.email' was withdrawn",
        }
    ]
    assert len(sandbox_requests(sandbox)) == 1


def test_expired_consent_refuses(app, gateway, sandbox, token):
    past = datetime.now(UTC) - timedelta(days=400)
    grant_consent(
        app,
        "marketing.communications.email",
        "dora@example.com",
        occurred_at=past,
        expires_at=past + timedelta(days=365),
    )
    response = post(gateway, token, MEMBERS, member("dora@example.com"))
    assert response.status_code == 403
    assert "expired on" in response.json()["detail"]


def test_redact_mode_strips_fields_outside_the_grant(app, gateway, sandbox):
    document = demo_document(sandbox)
    document["grants"][0].update(mode="redact", data_categories=["user.contact.email"])
    credentials = apply(
        app, document, {"MC_KEY": "0123456789abcdef0123456789abcdef-us21"}
    ).new_clients[0]
    grant_consent(app, "marketing.communications.email", "ada@example.com")
    token = get_token(gateway, credentials)
    response = post(
        gateway, token, MEMBERS, member("ada@example.com", merge_fields={"FNAME": "Ada"})
    )
    assert response.status_code == 200, response.text
    assert response.headers["Gatehouse-Decision"] == "redact"
    [received] = sandbox_requests(sandbox)
    assert json.loads(received["body"]) == {
        "email_address": "ada@example.com",
        "status": "subscribed",
        "merge_fields": {},
    }
    assert last_record(app).categories_stripped == ["user.name.first"]


def ad_tool(app, sandbox, vendor_id: int) -> str:
    """The Mailchimp tool, registered as IAB vendor ``vendor_id``, granted for advertising."""
    document = demo_document(sandbox)
    document["tools"][0]["iab_vendor_id"] = vendor_id
    document["grants"][0]["purposes"] = ["marketing"]
    credentials = apply(
        app, document, {"MC_KEY": "0123456789abcdef0123456789abcdef-us21"}
    ).new_clients[0]
    grant_consent(app, "marketing", "ada@example.com")
    return credentials


def test_gpc_refuses_third_party_advertising(app, gateway, sandbox):
    token = get_token(gateway, ad_tool(app, sandbox, vendor_id=1))
    response = post(
        gateway, token, MEMBERS, member("ada@example.com"), **{"X-Purpose": ADS, "Sec-GPC": "1"}
    )
    assert response.status_code == 403
    assert response.json()["reasons"][0]["rule"] == "gpc"
    allowed = post(gateway, token, MEMBERS, member("ada@example.com"), **{"Sec-GPC": "1"})
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize(
    ("tc_string", "vendor_id", "status", "reason"),
    [
        (TC["all_consents"], 1, 200, None),
        (TC["all_consents"], 6, 403, "does not allow IAB vendor 6"),
        (TC["only_purposes_1_2_7"], 1, 403, "purposes [3, 4]"),
        (TC["all_consents"][:60], 1, 403, "cannot be used: truncated"),
        ("CP!!not-a-tc-string", 1, 403, "cannot be used"),
    ],
)
def test_tcf_signal(app, gateway, sandbox, tc_string, vendor_id, status, reason):
    token = get_token(gateway, ad_tool(app, sandbox, vendor_id))
    headers = {"X-Purpose": ADS, "X-TCF-Consent": tc_string}
    response = post(gateway, token, MEMBERS, member("ada@example.com"), **headers)
    assert response.status_code == status, response.text
    if reason:
        [found] = [r for r in response.json()["reasons"] if r["rule"] == "tcf"]
        assert reason in found["message"]
        assert sandbox_requests(sandbox) == []
    else:
        assert "X-TCF-Consent" not in sandbox_requests(sandbox)[0]["headers"]


def test_the_log_names_the_policy_version_and_transfer(app, gateway, sandbox, token):
    post(gateway, token, MEMBERS, member("ada@example.com"))
    record = last_record(app)
    assert len(record.policy_version) == 64
    assert (record.country, record.transfer_basis) == ("US", "dpf")

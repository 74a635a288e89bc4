"""The official SendGrid SDK, unchanged but for its host and API key, through the gateway."""

from __future__ import annotations

import json

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail

from connectors.sandbox.vendors import sendgrid as sandbox_sendgrid
from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog, consent_to_every_purpose

VENDOR_KEY = f"Bearer {sandbox_sendgrid.CREDENTIALS['api_key']}"


@pytest.fixture
def token(app, gateway, sandbox) -> str:
    client = apply(app, catalog("sendgrid", sandbox)).new_clients[0]
    consent_to_every_purpose(app, "sendgrid", "ada@example.com")
    return get_token(gateway, client)


def sdk_client(gateway: str, token: str) -> SendGridAPIClient:
    # The host is the only change besides the key: the SDK appends "/v3/...".
    return SendGridAPIClient(api_key=token, host=f"{gateway}/proxy/sendgrid")


def test_sdk_upserts_a_contact_reads_it_and_sends_mail(gateway, sandbox, token):
    client = sdk_client(gateway, token)

    upserted = client.client.marketing.contacts.put(
        request_body={"contacts": [{"email": "ada@example.com", "first_name": "Ada"}]}
    )
    assert upserted.status_code == 202
    assert json.loads(upserted.body)["job_id"]
    found = client.client.marketing.contacts.search.emails.post(
        request_body={"emails": ["ada@example.com"]}
    )
    contact = json.loads(found.body)["result"]["ada@example.com"]["contact"]
    assert contact["id"] == sandbox_sendgrid.contact_id("ada@example.com")
    assert contact["first_name"] == "Ada"
    sent = client.send(
        Mail(
            from_email="news@example.com",
            to_emails="ada@example.com",
            subject="The analytical engine weekly",
            plain_text_content="Hello Ada",
        )
    )
    assert sent.status_code == 202

    received = sandbox_requests(sandbox)
    assert [(r["method"], r["path"]) for r in received] == [
        ("PUT", "/sendgrid/v3/marketing/contacts"),
        ("POST", "/sendgrid/v3/marketing/contacts/search/emails"),
        ("POST", "/sendgrid/v3/mail/send"),
    ]
    mail = json.loads(received[-1]["body"])
    assert mail["personalizations"][0]["to"] == [{"email": "ada@example.com"}]
    assert all(r["headers"]["Authorization"] == VENDOR_KEY for r in received)
    assert all(token not in json.dumps(r) for r in received)


def test_sdk_sees_the_gateway_refusal_as_an_api_error(gateway, sandbox, token):
    client = sdk_client(gateway, token)
    no_sender = {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hello Ada"}],
    }
    with pytest.raises(HTTPError) as refused:
        client.client.mail.send.post(request_body=no_sender)
    assert refused.value.status_code == 422
    assert {"pointer": "/from", "message": "is required"} in refused.value.to_dict["errors"]
    assert sandbox_requests(sandbox) == []

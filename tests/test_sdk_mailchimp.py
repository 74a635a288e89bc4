"""The official Mailchimp SDK, unchanged but for its base URL and key, through the gateway."""

from __future__ import annotations

import json

import mailchimp_marketing
from mailchimp_marketing.api_client import ApiClientError

from connectors.sandbox.vendors import mailchimp as sandbox_mailchimp
from tests.conftest import apply, get_token, grant_consent, sandbox_requests
from tests.test_connector_operations import catalog


def sdk_client(gateway: str, token: str) -> mailchimp_marketing.Client:
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": token, "server": "us21"})
    client.api_client.host = f"{gateway}/proxy/mailchimp"  # the base URL: the only other change
    return client


def test_sdk_adds_and_reads_a_member(app, gateway, sandbox):
    credentials = apply(app, catalog("mailchimp", sandbox)).new_clients[0]
    grant_consent(app, "marketing.communications.email", "ada@example.com")
    token = get_token(gateway, credentials)
    client = sdk_client(gateway, token)

    assert client.ping.get()["health_status"] == "Everything's Chimpy!"
    member = client.lists.add_list_member(
        "a1b2c3d4e5", {"email_address": "ada@example.com", "status": "subscribed"}
    )
    assert member["id"] == sandbox_mailchimp.subscriber_hash("ada@example.com")
    fetched = client.lists.get_list_member("a1b2c3d4e5", member["id"])
    assert fetched["email_address"] == "ada@example.com"

    received = sandbox_requests(sandbox)
    assert [r["path"] for r in received] == [
        "/mailchimp/3.0/ping",
        "/mailchimp/3.0/lists/a1b2c3d4e5/members",
        f"/mailchimp/3.0/lists/a1b2c3d4e5/members/{member['id']}",
    ]
    assert all(token not in str(r) for r in received)


def test_sdk_sees_the_gateway_refusal_as_an_api_error(app, gateway, sandbox):
    credentials = apply(app, catalog("mailchimp", sandbox)).new_clients[0]
    client = sdk_client(gateway, get_token(gateway, credentials))
    try:
        client.lists.add_list_member("a1b2c3d4e5", {"email_address": "ada@example.com"})
    except ApiClientError as error:
        assert error.status_code == 422
        assert {"pointer": "/status", "message": "is required"} in json.loads(error.text)["errors"]
    else:
        raise AssertionError("a body without status must be refused")
    assert sandbox_requests(sandbox) == []

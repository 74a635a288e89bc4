"""The official Klaviyo SDK (klaviyo-api), unchanged but for its host and key, through the
gateway: the bodies it builds, defaults included, are the ones the closed schemas allow."""

from __future__ import annotations

import json

import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException

from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog, consent_to_every_purpose

PROFILE = {"data": {"type": "profile", "attributes": {"email": "ada@example.com"}}}


@pytest.fixture
def klaviyo(app, gateway, sandbox) -> KlaviyoAPI:
    client = apply(app, catalog("klaviyo", sandbox)).new_clients[0]
    consent_to_every_purpose(app, "klaviyo", "ada@example.com")
    token = get_token(gateway, client)
    return KlaviyoAPI(token, test_host=f"{gateway}/proxy/klaviyo", max_retries=0)


def test_sdk_creates_a_profile_and_records_an_event(klaviyo, sandbox):
    attributes = {"email": "ada@example.com", "first_name": "Ada", "properties": {"plan": "pro"}}
    created = klaviyo.Profiles.create_profile(
        {"data": {"type": "profile", "attributes": attributes}}
    )
    assert created.data.attributes.email == "ada@example.com"
    event = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"title": "The Analytical Engine"},
                "metric": {"data": {"type": "metric", "attributes": {"name": "Viewed Product"}}},
                "profile": PROFILE,
            },
        }
    }
    klaviyo.Events.create_event(event)
    received = sandbox_requests(sandbox)
    assert [(r["method"], r["path"]) for r in received] == [
        ("POST", "/klaviyo/api/profiles"),
        ("POST", "/klaviyo/api/events"),
    ]
    sent = json.loads(received[-1]["body"])["data"]["attributes"]
    assert sent["metric"]["data"]["attributes"]["name"] == "Viewed Product"


def test_sdk_sees_the_gateway_refusal_as_an_api_error(klaviyo, sandbox):
    """Eve never consented: the SDK raises the gateway's problem like a Klaviyo error."""
    eve = {"data": {"type": "profile", "attributes": {"email": "eve@example.com"}}}
    with pytest.raises(ApiException) as refused:
        klaviyo.Profiles.create_profile(eve)
    assert refused.value.status == 403
    assert json.loads(refused.value.body)["reasons"][0]["rule"] == "consent"
    assert sandbox_requests(sandbox) == []

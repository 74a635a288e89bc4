"""The official Brevo SDK (brevo-python), unchanged but for its base URL and API key,
through the gateway."""

from __future__ import annotations

import json

import pytest
from brevo import Brevo
from brevo.core.api_error import ApiError

from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog, consent_to_every_purpose


@pytest.fixture
def brevo(app, gateway, sandbox) -> Brevo:
    client = apply(app, catalog("brevo", sandbox)).new_clients[0]
    consent_to_every_purpose(app, "brevo", "ada@example.com")
    return Brevo(api_key=get_token(gateway, client), base_url=f"{gateway}/proxy/brevo")


def test_sdk_creates_a_contact(brevo, sandbox):
    created = brevo.contacts.create_contact(
        email="ada@example.com", attributes={"FIRSTNAME": "Ada"}, update_enabled=True
    )
    assert created.id
    [received] = sandbox_requests(sandbox)
    assert (received["method"], received["path"]) == ("POST", "/brevo/v3/contacts")
    assert json.loads(received["body"])["attributes"] == {"FIRSTNAME": "Ada"}


def test_sdk_sees_the_gateway_refusal_as_an_api_error(brevo, sandbox):
    with pytest.raises(ApiError) as refused:
        brevo.contacts.create_contact(email="eve@example.com")
    assert refused.value.status_code == 403
    assert sandbox_requests(sandbox) == []

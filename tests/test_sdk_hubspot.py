"""The official HubSpot SDK, unchanged but for its host and access token, through the gateway."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicGdprDeleteInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)

from connectors.sandbox.vendors import hubspot as sandbox_hubspot
from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog, consent_to_every_purpose

VENDOR_TOKEN = f"Bearer {sandbox_hubspot.CREDENTIALS['access_token']}"


@pytest.fixture
def token(app, gateway, sandbox) -> str:
    client = apply(app, catalog("hubspot", sandbox)).new_clients[0]
    consent_to_every_purpose(app, "hubspot", "ada@example.com", "grace@example.com")
    # With idProperty=email the id is an address, but the spec can only call it an id.
    consent_to_every_purpose(app, "hubspot", "grace@example.com", kind="external_id")
    return get_token(gateway, client)


def sdk_client(gateway: str, token: str) -> hubspot.Client:
    # "host" reaches the Configuration of every API the client hands out.
    return hubspot.Client.create(access_token=token, host=f"{gateway}/proxy/hubspot")


def test_sdk_creates_reads_upserts_and_erases_contacts(gateway, sandbox, token):
    contacts = sdk_client(gateway, token).crm.contacts

    created = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "ada@example.com", "firstname": "Ada"}
        )
    )
    assert created.id == str(sandbox_hubspot.FIRST_CONTACT_ID)
    fetched = contacts.basic_api.get_by_id(created.id, properties=["firstname"])
    assert fetched.properties["firstname"] == "Ada"
    upserted = contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id="grace@example.com", id_property="email", properties={"firstname": "Grace"}
                )
            ]
        )
    )
    assert upserted.results[0].new is True
    assert upserted.results[0].properties["email"] == "grace@example.com"
    contacts.basic_api.purge(PublicGdprDeleteInput(object_id=created.id))

    received = sandbox_requests(sandbox)
    assert [(r["method"], r["path"]) for r in received] == [
        ("POST", "/hubspot/crm/v3/objects/contacts"),
        ("GET", f"/hubspot/crm/v3/objects/contacts/{created.id}"),
        ("POST", "/hubspot/crm/v3/objects/contacts/batch/upsert"),
        ("POST", "/hubspot/crm/v3/objects/contacts/gdpr-delete"),
    ]
    assert json.loads(received[0]["body"]) == {
        "properties": {"email": "ada@example.com", "firstname": "Ada"}
    }
    assert json.loads(received[-1]["body"]) == {"objectId": created.id}
    assert all(r["headers"]["Authorization"] == VENDOR_TOKEN for r in received)
    assert all(token not in json.dumps(r) for r in received)


def test_sdk_sees_vendor_and_gateway_refusals_as_api_errors(gateway, sandbox, token):
    contacts = sdk_client(gateway, token).crm.contacts
    with pytest.raises(ApiException) as refused:
        contacts.basic_api.get_by_id("1001", properties=["email"], archived=True)
    assert refused.value.status == 404
    with pytest.raises(ApiException) as refused:
        contacts.batch_api.upsert({"inputs": [{"id": "grace@example.com", "idProperty": "email"}]})
    assert refused.value.status == 422
    assert {"pointer": "/inputs/0/properties", "message": "is required"} in json.loads(
        refused.value.body
    )["errors"]
    assert [r["path"] for r in sandbox_requests(sandbox)] == [
        "/hubspot/crm/v3/objects/contacts/1001"
    ]

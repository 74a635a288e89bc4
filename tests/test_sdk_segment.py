"""The official Segment SDK, unchanged but for its host and write key, through the gateway.

The SDK presents its write key twice: as the basic-auth user name, where the gateway finds
its token and puts the vendor's write key instead, and as ``writeKey`` in the JSON body,
which the gateway removes (the connector's ``body`` token location), so the app's token
never reaches Segment.
"""

from __future__ import annotations

import base64
import json

import requests
from segment.analytics import Client

from connectors.sandbox.vendors import segment as sandbox_segment
from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog, consent_to_every_purpose

SANDBOX_AUTHORIZATION = (
    "Basic " + base64.b64encode(f"{sandbox_segment.CREDENTIALS['write_key']}:".encode()).decode()
)


def sdk_client(gateway: str, token: str) -> Client:
    # sync_mode sends each call at once instead of from a background thread.
    return Client(write_key=token, host=f"{gateway}/proxy/segment", sync_mode=True)


def connected_token(app, gateway: str, sandbox: str) -> str:
    client = apply(app, catalog("segment", sandbox)).new_clients[0]
    consent_to_every_purpose(app, "segment", "ada@example.com")
    consent_to_every_purpose(app, "segment", "user-42", kind="external_id")
    return get_token(gateway, client)


def test_sdk_identifies_and_tracks_through_the_gateway(app, gateway, sandbox):
    """The SDK's batch carries its key in the body too; the gateway takes it out."""
    token = connected_token(app, gateway, sandbox)
    client = sdk_client(gateway, token)

    client.identify("user-42", {"email": "ada@example.com", "firstName": "Ada"})
    client.track("user-42", "Plan Upgraded", {"plan": "pro"})

    received = sandbox_requests(sandbox)
    assert [r["path"] for r in received] == ["/segment/v1/batch", "/segment/v1/batch"]
    calls = [json.loads(r["body"])["batch"][0] for r in received]
    assert [call["type"] for call in calls] == ["identify", "track"]
    assert calls[0]["traits"] == {"email": "ada@example.com", "firstName": "Ada"}
    assert calls[1]["event"] == "Plan Upgraded"
    assert all(r["headers"]["Authorization"] == SANDBOX_AUTHORIZATION for r in received)
    assert all(token not in json.dumps(r) for r in received)
    assert all("writeKey" not in json.loads(r["body"]) for r in received)
    accepted = requests.get(f"{sandbox}/segment/_sandbox/events", timeout=10).json()
    assert [(call["type"], call["userId"]) for call in accepted] == [
        ("identify", "user-42"),
        ("track", "user-42"),
    ]

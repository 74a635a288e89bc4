"""Official vendor SDKs configured with nothing but the gateway's base URL and an API key:
no token request, no refresh code. A revoked key is refused on the next call."""

from __future__ import annotations

import pytest
from brevo import Brevo
from brevo.core.api_error import ApiError
from mailchimp_marketing.api_client import ApiClientError

from connectors.sandbox.vendors import mailchimp as sandbox_mailchimp
from gateway.oauth.api_keys import revoke_key
from tests.conftest import apply, grant_consent, sandbox_requests
from tests.test_api_keys import OPERATOR, issue_key, with_app
from tests.test_connector_operations import catalog, consent_to_every_purpose
from tests.test_sdk_mailchimp import sdk_client


def test_the_mailchimp_sdk_adds_a_member_with_a_key_until_it_is_revoked(app, gateway, sandbox):
    apply(app, catalog("mailchimp", sandbox))
    grant_consent(app, "marketing.communications.email", "ada@example.com")
    new = issue_key(app, "mailchimp-app")
    client = sdk_client(gateway, new.plaintext)

    member = client.lists.add_list_member(
        "a1b2c3d4e5", {"email_address": "ada@example.com", "status": "subscribed"}
    )
    assert member["id"] == sandbox_mailchimp.subscriber_hash("ada@example.com")
    assert all(new.plaintext[17:] not in str(seen) for seen in sandbox_requests(sandbox))

    with_app(app, "mailchimp-app", lambda s, c: revoke_key(s, OPERATOR, "t", c, new.key.key_id))
    with pytest.raises(ApiClientError) as refused:
        client.lists.get_list_member("a1b2c3d4e5", member["id"])
    assert refused.value.status_code == 401
    assert len(sandbox_requests(sandbox)) == 1


def test_the_brevo_sdk_sends_the_key_in_its_own_header(app, gateway, sandbox):
    apply(app, catalog("brevo", sandbox))
    consent_to_every_purpose(app, "brevo", "ada@example.com")
    new = issue_key(app, "brevo-app")
    brevo = Brevo(api_key=new.plaintext, base_url=f"{gateway}/proxy/brevo")

    assert brevo.contacts.create_contact(email="ada@example.com", update_enabled=True).id
    [received] = sandbox_requests(sandbox)
    assert new.plaintext not in str(received)

    with_app(app, "brevo-app", lambda s, c: revoke_key(s, OPERATOR, "t", c, new.key.key_id))
    with pytest.raises(ApiError) as refused:
        brevo.contacts.create_contact(email="ada@example.com", update_enabled=True)
    assert refused.value.status_code == 401

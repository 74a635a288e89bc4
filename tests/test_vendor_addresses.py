"""A tool reaches public addresses only, unless IT allows its private network.

A base URL or a name that resolves to loopback, a private network or a cloud metadata
service would let anyone who can edit a catalog entry, or who controls a vendor's DNS,
reach the gateway's own network. The check runs when the gateway connects, on the
address it connects to. The demo and the tests allow their loopback sandboxes explicitly.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import update

from catalog.declarative import CatalogError, export_document
from catalog.models import Tool
from gateway.addresses import refusal_reason
from gateway.db import db
from tests.conftest import apply, get_token, sandbox_requests
from tests.test_connector_operations import catalog
from tests.test_proxy import assert_problem, echo_document, records
from tests.test_salesforce_oauth import proxy


def on_localhost(url: str) -> str:
    """The same server, named instead of numbered: only resolving shows it is loopback."""
    return url.replace("127.0.0.1", "localhost", 1)


def private_not_allowed(document: dict) -> dict:
    for tool in document["tools"]:
        tool.pop("allow_private_network")
    return document


def call(gateway: str, token: str) -> requests.Response:
    return requests.get(
        f"{gateway}/proxy/echo/x", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_a_loopback_tool_is_refused_unless_allowed(app, gateway, upstream):
    client = apply(app, echo_document(upstream.url)).new_clients[0]
    token = get_token(gateway, client)
    with app.app_context():  # as a tool from before the setting existed: not allowed
        db.session.execute(update(Tool).values(allow_private_network=False))
        db.session.commit()

    refused = call(gateway, token)

    assert_problem(refused, 502, "upstream-address-refused")
    assert "loopback" in refused.json()["detail"]
    assert upstream.requests == [], "nothing reached the loopback server"
    [record] = records(app)
    assert (record.outcome.value, record.status, record.error) == (
        "completed",
        502,
        "upstream-address-refused",
    )

    apply(app, echo_document(upstream.url))  # IT allows it
    assert call(gateway, token).status_code == 200
    assert len(upstream.requests) == 1


def test_a_name_is_checked_where_it_resolves_when_connecting(app, gateway, upstream):
    document = private_not_allowed(echo_document(on_localhost(upstream.url)))
    token = get_token(gateway, apply(app, document).new_clients[0])  # a name: apply can't tell

    assert_problem(call(gateway, token), 502, "upstream-address-refused")
    assert upstream.requests == []


def test_a_redirect_is_not_followed_where_no_check_could_look(app, gateway, upstream):
    # The recording upstream answers with a redirect to 127.0.0.2: returned, not followed.
    client = apply(app, echo_document(on_localhost(upstream.url))).new_clients[0]
    response = requests.get(
        f"{gateway}/proxy/echo/redirect",
        headers={"Authorization": f"Bearer {get_token(gateway, client)}"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    assert [r["path"] for r in upstream.requests] == ["/redirect"]


def test_the_vendor_token_endpoint_is_checked_too(app, gateway, sandbox):
    document = private_not_allowed(catalog("salesforce", on_localhost(sandbox)))
    token = get_token(gateway, apply(app, document).new_clients[0])

    response = proxy(gateway, token, "POST", "sobjects/Contact", {"LastName": "Lovelace"})

    problem = assert_problem(response, 502, "upstream-address-refused")
    assert problem["reasons"][0]["rule"] == "upstream_address", "refused at the token fetch"
    assert sandbox_requests(sandbox) == [], "neither the token endpoint nor the API was called"


@pytest.mark.parametrize(
    ("base_url", "allowed", "message"),
    [
        ("http://127.0.0.1:9001/api", False, "127.0.0.1 (loopback address)"),
        ("http://10.1.2.3/api", False, "10.1.2.3 (private or reserved address)"),
        ("http://[::ffff:192.168.0.1]/api", False, "::ffff:c0a8:1 (private or reserved address)"),
        ("http://169.254.169.254/latest", False, "169.254.169.254 (cloud metadata address)"),
        ("http://169.254.169.254/latest", True, "169.254.169.254 (cloud metadata address)"),
    ],
)
def test_apply_refuses_a_base_url_at_an_address_the_tool_may_not_reach(
    app, base_url, allowed, message
):
    document = echo_document(base_url)
    document["tools"][0]["allow_private_network"] = allowed

    with pytest.raises(CatalogError, match="/tools/0/base_url: ") as refused:
        apply(app, document)

    assert message in str(refused.value)
    assert ("set allow_private_network" in str(refused.value)) is not allowed


def test_the_setting_is_exported_only_where_it_is_given(app):
    document = echo_document("http://127.0.0.1:9001")
    document["tools"].append(
        {**document["tools"][0], "slug": "public", "base_url": "https://api.example.com"}
    )
    document["tools"][1].pop("allow_private_network")
    apply(app, document)

    with app.app_context():
        exported = {tool["slug"]: tool for tool in export_document(db.session)["tools"]}

    assert exported["echo"]["allow_private_network"] is True
    assert "allow_private_network" not in exported["public"]
    assert urlsplit(exported["public"]["base_url"]).hostname == "api.example.com"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("64:ff9b::a00:1", "private or reserved"),  # NAT64 for 10.0.0.1
        ("10.0.0.1", "private or reserved"),
        ("172.16.5.4", "private or reserved"),
        ("192.168.1.1", "private or reserved"),
        ("fd12:3456::1", "private or reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address judged, not one bound
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
        ("::ffff:93.184.215.14", None),
    ],
)
def test_addresses_a_tool_may_not_reach_without_the_setting(address, kind):
    assert refusal_reason(ipaddress.ip_address(address), allow_private_network=False) == kind


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "fe80::1", "::ffff:10.0.0.1"])
def test_the_setting_opens_private_networks_but_never_metadata(address):
    assert refusal_reason(ipaddress.ip_address(address), allow_private_network=True) is None
    assert refusal_reason(ipaddress.ip_address("169.254.169.254"), True) == "cloud metadata"

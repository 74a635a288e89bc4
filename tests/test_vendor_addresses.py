"""A tool reaches public addresses only, unless IT allows its private network.

A base URL at loopback, a private network or a cloud metadata service would let anyone
who can edit a catalog entry reach the gateway's own network. The demo and the tests
allow their loopback sandboxes explicitly.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest

from gateway.addresses import refusal_reason
from gateway.db import db
from gateway.declarative import CatalogError, export_document
from tests.conftest import apply
from tests.test_proxy import echo_document


@pytest.mark.parametrize(
    ("base_url", "allowed", "message"),
    [
        ("http://127.0.0.1:9001/api", False, "127.0.0.1 is a loopback address"),
        ("http://10.1.2.3/api", False, "10.1.2.3 is a private or reserved address"),
        ("http://[::ffff:192.168.0.1]/api", False, "is a private or reserved address"),
        ("http://169.254.169.254/latest", False, "is a cloud metadata address"),
        ("http://169.254.169.254/latest", True, "is a cloud metadata address"),
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

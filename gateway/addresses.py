"""Which network addresses a vendor call may reach: public ones, unless IT says otherwise.

What matters is the address a tool's host resolves to when the gateway connects, so the
check runs on every connection (``gateway.vendor_connections``); a base URL that is
already an address is checked as well when IT applies the catalog. A tool IT marks
``allow_private_network`` (a sandbox or a vendor inside the company network) may reach
loopback and private addresses; no tool may reach a cloud metadata service.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Instance metadata services (AWS, GCP, Azure, AWS over IPv6, Alibaba): never a vendor.
METADATA = frozenset(
    ipaddress.ip_address(text) for text in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
#: IPv6 prefix of NAT64 gateways, which carry an IPv4 address in their last 32 bits.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def refusal_reason(address: Address, allow_private_network: bool) -> str | None:
    """What kind of address a vendor call may not reach ``address`` is, or None if it may."""
    address = _as_ipv4_when_embedded(address)
    if address in METADATA:
        return "cloud metadata"
    if allow_private_network:
        return None
    for kind, found in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private or reserved", address.is_private or address.is_reserved),
        ("non-public", not address.is_global),
    ):
        if found:
            return kind
    return None


def literal_address(url: str) -> Address | None:
    """The host of ``url`` when it is an IP address rather than a name."""
    try:
        return ipaddress.ip_address(urlsplit(url).hostname or "")
    except ValueError:
        return None


def _as_ipv4_when_embedded(address: Address) -> Address:
    """The IPv4 address an IPv6 one stands for (``::ffff:127.0.0.1``, NAT64, 6to4)."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour or address

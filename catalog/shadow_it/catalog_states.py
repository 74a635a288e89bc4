"""Where each dataset vendor stands in the catalog, and the gateway's own addresses.

A catalog tool is the vendor's when, in this order: its connector is the vendor's
connector; its website's host is one of the vendor's hosts; its slug is the vendor's
slug. A tool request is the vendor's by its connector, its website, or its vendor name
(the vendor's name or one of its merchant names). Several tools or requests for one
vendor: the strongest state wins — approved, suspended, retired, requested (a tool
being requested or reviewed, or an open request), rejected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import DECIDED, RequestStatus, Tool, ToolRequest, ToolStatus
from catalog.shadow_it.departments import Network
from catalog.shadow_it.evidence import host_of
from catalog.shadow_it.models import CatalogState
from connectors.saas_vendors import Vendor, VendorIndex

APPROVED = "approved"
#: strongest first
PRECEDENCE = (
    APPROVED,
    CatalogState.SUSPENDED,
    CatalogState.RETIRED,
    CatalogState.REQUESTED,
    CatalogState.REJECTED,
)
TOOL_STATES = {
    ToolStatus.APPROVED: APPROVED,
    ToolStatus.SUSPENDED: CatalogState.SUSPENDED,
    ToolStatus.RETIRED: CatalogState.RETIRED,
    ToolStatus.REQUESTED: CatalogState.REQUESTED,
    ToolStatus.UNDER_REVIEW: CatalogState.REQUESTED,
}


@dataclass(frozen=True)
class Standing:
    state: str
    tool_slug: str | None = None
    request_id: int | None = None


NOT_IN_CATALOG = Standing(CatalogState.NOT_IN_CATALOG)


def vendor_of_tool(index: VendorIndex, tool: Tool) -> Vendor | None:
    for vendor in index.vendors.values():
        if vendor.connector and vendor.connector == tool.connector:
            return vendor
    return _by_website(index, tool.website) or index.vendors.get(tool.slug)


def vendor_of_request(index: VendorIndex, request: ToolRequest) -> Vendor | None:
    for vendor in index.vendors.values():
        if vendor.connector and vendor.connector == request.connector:
            return vendor
    found = _by_website(index, request.website)
    if found is not None:
        return found
    name = request.vendor_name.strip().lower()
    by_name = next((v for v in index.vendors.values() if v.name.lower() == name), None)
    return by_name or index.by_merchant(request.vendor_name)


def _by_website(index: VendorIndex, website: str | None) -> Vendor | None:
    host = host_of(website) if website else None
    match = index.by_host(host) if host else None
    return match.vendor if match else None


class CatalogStates:
    """The standing of every vendor the catalog knows of, read once per scan."""

    def __init__(self, standings: dict[str, Standing], egress: Iterable[Network]) -> None:
        self.standings = standings
        self.egress = tuple(egress)

    @classmethod
    def read(cls, session: Session, index: VendorIndex, egress: Iterable[str]) -> CatalogStates:
        standings: dict[str, Standing] = {}
        for tool in session.scalars(select(Tool).order_by(Tool.id)):
            vendor = vendor_of_tool(index, tool)
            if vendor is not None:
                _keep_strongest(
                    standings, vendor.slug, Standing(TOOL_STATES[tool.status], tool.slug)
                )
        for request in session.scalars(select(ToolRequest).order_by(ToolRequest.id)):
            state = _request_state(request.status)
            vendor = vendor_of_request(index, request) if state else None
            if vendor is not None:
                _keep_strongest(standings, vendor.slug, Standing(state, request_id=request.id))
        networks = [ipaddress.ip_network(cidr, strict=False) for cidr in egress]
        return cls(standings, networks)

    def of(self, vendor_slug: str) -> Standing:
        return self.standings.get(vendor_slug, NOT_IN_CATALOG)

    def is_gateway(self, address: str | None) -> bool:
        if address is None:
            return False
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed.version == net.version and parsed in net for net in self.egress)


def _request_state(status: RequestStatus) -> str | None:
    if status == RequestStatus.REJECTED:
        return CatalogState.REJECTED
    if status in DECIDED:  # approved requests made a tool; withdrawn ones say nothing
        return None
    return CatalogState.REQUESTED


def _keep_strongest(standings: dict[str, Standing], slug: str, standing: Standing) -> None:
    current = standings.get(slug)
    if current is None or PRECEDENCE.index(standing.state) < PRECEDENCE.index(current.state):
        standings[slug] = standing

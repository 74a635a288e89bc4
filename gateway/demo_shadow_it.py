"""``make run``'s shadow-IT findings: a week of the demo company's proxy log (Squid),
scanned through the same service as ``gatehouse shadow-it scan``, so IT's findings page
is never empty on first look. Rescanning on the next run counts nothing twice."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from catalog.shadow_it.catalog_states import CatalogStates
from catalog.shadow_it.departments import DepartmentMap
from catalog.shadow_it.formats import ParseOptions
from catalog.shadow_it.recording import run_scan
from catalog.shadow_it.scan import ScanContext
from connectors.saas_vendors import VendorIndex

EGRESS_LOG = Path(__file__).with_name("demo_egress.log")
#: The demo company's networks; the gateway itself calls out from loopback.
DEPARTMENTS = {"10.20.0.0/16": "growth", "10.30.0.0/16": "compliance"}
GATEWAY_EGRESS = ("127.0.0.1/32",)


def seed_shadow_it(session: Session) -> None:
    index = VendorIndex.default()
    context = ScanContext(
        index=index,
        states=CatalogStates.read(session, index, GATEWAY_EGRESS),
        departments=DepartmentMap(
            [(ipaddress.ip_network(cidr), name) for cidr, name in DEPARTMENTS.items()]
        ),
        options=ParseOptions(),
        now=datetime.now(UTC),
    )
    run_scan(session, [(EGRESS_LOG, "squid")], context, unknown_threshold=5)

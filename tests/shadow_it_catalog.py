"""The catalog the shadow-IT samples are read against: Mailchimp approved (the gateway
calls it from 203.0.113.10), HubSpot suspended, Hotjar unknown to the catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from catalog.models import Tool, ToolStatus
from catalog.shadow_it.catalog_states import CatalogStates
from catalog.shadow_it.departments import DepartmentMap
from catalog.shadow_it.formats import ParseOptions
from catalog.shadow_it.scan import ScanContext
from connectors.saas_vendors import VendorIndex

SAMPLES = Path(__file__).parent / "samples" / "shadow_it"
EGRESS = ("203.0.113.10/32",)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def add_sample_tools(session) -> None:
    session.add_all(
        [
            Tool(
                slug="mailchimp",
                name="Mailchimp",
                connector="mailchimp",
                status=ToolStatus.APPROVED,
            ),
            Tool(slug="hubspot", name="HubSpot", connector="hubspot", status=ToolStatus.SUSPENDED),
        ]
    )
    session.flush()


def sample_context(session, columns: dict | None = None, since=None) -> ScanContext:
    index = VendorIndex.default()
    return ScanContext(
        index=index,
        states=CatalogStates.read(session, index, EGRESS),
        departments=DepartmentMap.load(SAMPLES / "departments.yaml"),
        options=ParseOptions(columns=columns or {}),
        now=NOW,
        since=since,
    )

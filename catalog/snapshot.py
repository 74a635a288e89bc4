"""The catalog as the proxy sees it: an immutable view, built once per change.

Vendor credentials are decrypted while building, so the hot path never touches the
vault or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.models import Grant, Tool
from catalog.rate_limit_terms import NO_GRANT_LIMITS, NO_TOOL_LIMITS, GrantLimits, ToolLimits
from connectors.registry import GENERIC, SpecError, load_spec, parse_inline_spec
from connectors.spec import ConnectorSpec
from policies.facts import GrantFacts, ToolFacts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolView:
    facts: ToolFacts
    #: None when the tool's connector spec cannot be loaded: the tool is then unusable.
    spec: ConnectorSpec | None
    base_url: str | None
    credentials: Mapping[str, str] = field(repr=False)
    #: The gateway may connect to loopback and private addresses for this tool.
    allow_private_network: bool = False
    limits: ToolLimits = NO_TOOL_LIMITS

    @property
    def slug(self) -> str:
        return self.facts.slug


@dataclass(frozen=True)
class CatalogSnapshot:
    tools: Mapping[str, ToolView]
    grants: Mapping[tuple[str, str], GrantFacts]
    grant_limits: Mapping[tuple[str, str], GrantLimits] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def grant(self, department: str, tool: str) -> GrantFacts | None:
        return self.grants.get((department, tool))

    def limits_of_grant(self, department: str, tool: str) -> GrantLimits:
        return self.grant_limits.get((department, tool), NO_GRANT_LIMITS)


def build_catalog_snapshot(
    session: Session, decrypt_credentials: Callable[[str], dict], spec_folders: tuple[Path, ...]
) -> CatalogSnapshot:
    specs = SpecCache(spec_folders)
    tools = {
        tool.slug: _tool_view(tool, specs.for_tool(tool), decrypt_credentials)
        for tool in session.scalars(select(Tool))
    }
    query = select(Grant).options(joinedload(Grant.department), joinedload(Grant.tool))
    grants, grant_limits = {}, {}
    for grant in session.scalars(query):
        key = (grant.department.slug, grant.tool.slug)
        grants[key] = GrantFacts(
            purposes=frozenset(grant.purposes),
            data_categories=frozenset(grant.data_categories),
            mode=grant.mode.value,
            expires=grant.expires,
        )
        if grant.limits:
            grant_limits[key] = GrantLimits.of(grant.limits)
    return CatalogSnapshot(
        MappingProxyType(tools), MappingProxyType(grants), MappingProxyType(grant_limits)
    )


def _tool_view(
    tool: Tool, spec: ConnectorSpec | None, decrypt_credentials: Callable[[str], dict]
) -> ToolView:
    credentials = (
        decrypt_credentials(tool.credentials_encrypted) if tool.credentials_encrypted else {}
    )
    return ToolView(
        facts=ToolFacts(
            slug=tool.slug,
            status=tool.status.value,
            country=tool.country,
            transfer_basis=tool.transfer_basis.value if tool.transfer_basis else None,
            review_due=tool.review_due,
            iab_vendor_id=tool.iab_vendor_id,
        ),
        spec=spec,
        base_url=tool.base_url or (spec.base_url if spec else None),
        credentials=MappingProxyType(credentials),
        allow_private_network=tool.allow_private_network,
        limits=ToolLimits.of(tool.rate_limits, tool.vendor_quota, tool.limits_on_store_outage),
    )


class SpecCache:
    """Each connector spec loaded once per snapshot; a broken one is logged, not fatal."""

    def __init__(self, folders: tuple[Path, ...]) -> None:
        self._folders = folders
        self._specs: dict[str, ConnectorSpec | None] = {}

    def for_tool(self, tool: Tool) -> ConnectorSpec | None:
        if tool.connector == GENERIC:
            return _logged_failure(
                lambda: parse_inline_spec(
                    tool.inline_spec or {}, tool.name, tool.base_url or "", f"tool {tool.slug}"
                ),
                f"the generic spec of tool {tool.slug!r}",
            )
        if tool.connector not in self._specs:
            self._specs[tool.connector] = _logged_failure(
                lambda: load_spec(tool.connector, self._folders), f"connector {tool.connector!r}"
            )
        return self._specs[tool.connector]


def _logged_failure(load: Callable[[], ConnectorSpec], what: str) -> ConnectorSpec | None:
    try:
        return load()
    except SpecError:
        logger.exception("%s cannot be loaded; its tools are unusable", what)
        return None

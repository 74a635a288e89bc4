"""The catalog as the proxy sees it: an immutable view, built once per change.

Vendor credentials are decrypted while building, so the hot path never touches the
vault or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.models import Grant, Tool
from connectors.registry import ConnectorSpec, SpecError, load_spec
from policies.facts import GrantFacts, ToolFacts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolView:
    facts: ToolFacts
    #: None when the tool's connector spec cannot be loaded: the tool is then unusable.
    spec: ConnectorSpec | None
    base_url: str | None
    credentials: Mapping[str, str] = field(repr=False)

    @property
    def slug(self) -> str:
        return self.facts.slug


@dataclass(frozen=True)
class CatalogSnapshot:
    tools: Mapping[str, ToolView]
    grants: Mapping[tuple[str, str], GrantFacts]

    def grant(self, department: str, tool: str) -> GrantFacts | None:
        return self.grants.get((department, tool))


def build_catalog_snapshot(
    session: Session, decrypt_credentials: Callable[[str], dict]
) -> CatalogSnapshot:
    specs = _SpecCache()
    tools = {
        tool.slug: _tool_view(tool, specs.get(tool.connector), decrypt_credentials)
        for tool in session.scalars(select(Tool))
    }
    query = select(Grant).options(joinedload(Grant.department), joinedload(Grant.tool))
    grants = {
        (grant.department.slug, grant.tool.slug): GrantFacts(
            purposes=frozenset(grant.purposes),
            data_categories=frozenset(grant.data_categories),
            mode=grant.mode.value,
            expires=grant.expires,
        )
        for grant in session.scalars(query)
    }
    return CatalogSnapshot(MappingProxyType(tools), MappingProxyType(grants))


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
        ),
        spec=spec,
        base_url=tool.base_url or (spec.base_url if spec else None),
        credentials=MappingProxyType(credentials),
    )


class _SpecCache:
    """Each connector spec loaded once per snapshot, failures logged once."""

    def __init__(self) -> None:
        self._specs: dict[str, ConnectorSpec | None] = {}

    def get(self, connector: str) -> ConnectorSpec | None:
        if connector not in self._specs:
            try:
                self._specs[connector] = load_spec(connector)
            except SpecError:
                logger.exception("connector %r cannot be loaded; its tools are unusable", connector)
                self._specs[connector] = None
        return self._specs[connector]

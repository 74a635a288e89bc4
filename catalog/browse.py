"""Browsing the catalog: "is something already approved for my purpose?".

Marketing and apps see approved tools; IT and auditors see tools in every state. A tool
is found by words of its name, vendor (connector) or description, and by what it is used
for: the purposes (fideslang data uses) and data categories of its grants and of its
connector's operations. A term matches the terms below it and above it in the fideslang
hierarchy, so ``marketing`` finds a tool granted ``marketing.communications.email``, and a
tool granted ``user.contact`` is found by ``user.contact.email``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.credentials import needs_credentials
from catalog.cursors import make_cursor, read_cursor
from catalog.errors import CatalogRefusal, NotFound
from catalog.models import Grant, Tool, ToolStatus
from catalog.snapshot import SpecCache
from catalog.tools import find_tool
from connectors.spec import ConnectorSpec
from gateway.identity.actors import Actor
from policies.taxonomy import covers, known_data_categories, known_data_uses

MAX_PAGE = 100


class BadFilter(CatalogRefusal):
    """A filter names a status, purpose or data category that does not exist."""

    slug = "invalid-query"
    status = 400


@dataclass(frozen=True)
class CatalogFilter:
    q: str = ""
    status: str | None = None
    category: str | None = None
    purpose: str | None = None
    data_category: str | None = None

    def check(self) -> None:
        if self.status and self.status not in {status.value for status in ToolStatus}:
            raise BadFilter(f"status must be one of {', '.join(s.value for s in ToolStatus)}")
        if self.purpose and self.purpose not in known_data_uses():
            raise BadFilter(f"purpose {self.purpose!r} is not a fideslang data use")
        if self.data_category and self.data_category not in known_data_categories():
            raise BadFilter(f"data_category {self.data_category!r} is not a fideslang category")


@dataclass(frozen=True)
class ToolEntry:
    """A tool with what it is used for, as the catalog shows it."""

    tool: Tool
    spec: ConnectorSpec | None
    grants: tuple[Grant, ...]
    purposes: frozenset[str]
    data_categories: frozenset[str]
    waiting_for_credentials: bool

    @property
    def departments(self) -> list[str]:
        return [grant.department.slug for grant in self.grants]


@dataclass(frozen=True)
class CatalogPage:
    items: list[ToolEntry] = field(default_factory=list)
    next_cursor: str | None = None


def sees_every_status(actor: Actor) -> bool:
    """IT and auditors see requested, suspended and retired tools too."""
    return actor.may("reviews:write") or actor.may("history:read")


def browse(
    session: Session,
    actor: Actor,
    where: CatalogFilter,
    specs: SpecCache,
    limit: int = 50,
    cursor: str | None = None,
) -> CatalogPage:
    where.check()
    after = read_cursor(cursor, 2)
    entries = [
        entry
        for entry in _entries(session, _visible_tools(session, actor, where), specs)
        if _matches(entry, where)
    ]
    if after is not None:
        entries = [entry for entry in entries if _sort_key(entry.tool) > after]
    more = len(entries) > limit
    page = entries[:limit]
    return CatalogPage(page, make_cursor(_sort_key(page[-1].tool)) if more else None)


def tool_entry(session: Session, actor: Actor, slug: str, specs: SpecCache) -> ToolEntry:
    """One tool as its page shows it; a tool the actor may not see is not found."""
    tool = find_tool(session, slug)
    if tool.status is not ToolStatus.APPROVED and not sees_every_status(actor):
        raise NotFound(f"no tool {slug!r} in the catalog")
    return _entries(session, [tool], specs)[0]


def categories(session: Session) -> list[str]:
    """The tool categories in use, for the catalog's filter."""
    query = select(Tool.category).where(Tool.category.is_not(None)).distinct()
    return sorted(session.scalars(query))


def _visible_tools(session: Session, actor: Actor, where: CatalogFilter) -> list[Tool]:
    query = select(Tool)
    if not sees_every_status(actor):
        query = query.where(Tool.status == ToolStatus.APPROVED)
    if where.status:
        query = query.where(Tool.status == ToolStatus(where.status))
    if where.category:
        query = query.where(Tool.category == where.category)
    return sorted(session.scalars(query), key=_sort_key)


def _entries(session: Session, tools: list[Tool], specs: SpecCache) -> list[ToolEntry]:
    grants_of: dict[int, list[Grant]] = {tool.id: [] for tool in tools}
    query = (
        select(Grant)
        .where(Grant.tool_id.in_(grants_of))
        .options(joinedload(Grant.department))
        .order_by(Grant.id)
    )
    for grant in session.scalars(query):
        grants_of[grant.tool_id].append(grant)
    return [_entry(tool, specs.for_tool(tool), grants_of[tool.id]) for tool in tools]


def _entry(tool: Tool, spec: ConnectorSpec | None, grants: list[Grant]) -> ToolEntry:
    operations = spec.operations if spec is not None else ()
    purposes = {grant_purpose for grant in grants for grant_purpose in grant.purposes}
    purposes |= {operation.default_purpose for operation in operations}
    data_categories = {category for grant in grants for category in grant.data_categories}
    data_categories |= {c for operation in operations for c in operation.data_categories.values()}
    return ToolEntry(
        tool,
        spec,
        tuple(sorted(grants, key=lambda grant: grant.department.slug)),
        frozenset(purposes),
        frozenset(data_categories),
        needs_credentials(tool, spec),
    )


def _matches(entry: ToolEntry, where: CatalogFilter) -> bool:
    if where.q and not _has_words(entry, where.q):
        return False
    if where.purpose and not _related(where.purpose, entry.purposes):
        return False
    return not where.data_category or _related(where.data_category, entry.data_categories)


def _has_words(entry: ToolEntry, q: str) -> bool:
    text = " ".join(
        part or ""
        for part in (
            entry.tool.name,
            entry.tool.slug,
            entry.tool.connector,
            entry.spec.name if entry.spec else "",
            entry.tool.description,
            entry.tool.category,
        )
    ).casefold()
    return all(word in text for word in q.casefold().split())


def _related(term: str, keys: Iterable[str]) -> bool:
    return any(covers(term, key) or covers(key, term) for key in keys)


def _sort_key(tool: Tool) -> list:
    return [tool.name.casefold(), tool.slug]

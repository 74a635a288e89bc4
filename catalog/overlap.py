"""Before a tool is requested: is something already approved for that, or already asked for?

Two answers, shown to the marketer before they confirm and to the reviewer after:

* the approved tools that already cover the purposes and data categories asked for, by
  what their grants allow and what their connector's operations carry;
* the catalog tools (in any state) and open requests for the same vendor, matched by
  name (ignoring case and spaces) or by the website's domain (ignoring ``www.``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from catalog.models import Grant, RequestStatus, Tool, ToolRequest, ToolStatus
from connectors.registry import SPECS_DIR, SpecError, load_spec
from gateway.identity.actors import Actor
from policies.taxonomy import covered_by_any

OPEN = (RequestStatus.SUBMITTED, RequestStatus.UNDER_REVIEW, RequestStatus.NEEDS_INFO)


@dataclass(frozen=True)
class CoveringTool:
    slug: str
    name: str
    category: str | None
    #: the purposes and data categories asked for that this tool already covers
    purposes: tuple[str, ...]
    data_categories: tuple[str, ...]
    #: departments with a grant for the tool
    departments: tuple[str, ...]

    @property
    def covers_everything(self) -> bool:
        return bool(self.purposes) and bool(self.data_categories)


@dataclass(frozen=True)
class SameVendor:
    """A catalog tool or a request for the vendor being asked for."""

    kind: str  # ``tool`` or ``tool_request``
    label: str
    status: str
    #: the tool's slug or the request's id; None if the actor may not see that request
    reference: str | None
    matched_by: str  # ``name`` or ``website``


def covering_tools(
    session: Session,
    purposes: Iterable[str],
    data_categories: Iterable[str],
    spec_folders: tuple[Path, ...] = (SPECS_DIR,),
) -> list[CoveringTool]:
    """Approved tools covering at least one of the purposes, the best covering first."""
    purposes, data_categories = list(purposes), list(data_categories)
    found = []
    approved = select(Tool).where(Tool.status == ToolStatus.APPROVED).order_by(Tool.name)
    grants_by_tool: dict[int, list[Grant]] = {}
    for grant in session.scalars(select(Grant).options(selectinload(Grant.department))):
        grants_by_tool.setdefault(grant.tool_id, []).append(grant)
    for tool in session.scalars(approved):
        grants = grants_by_tool.get(tool.id, [])
        tool_purposes = {purpose for grant in grants for purpose in grant.purposes}
        tool_categories = {c for grant in grants for c in grant.data_categories}
        tool_categories |= _connector_categories(tool.connector, spec_folders)
        matched_purposes = tuple(p for p in purposes if covered_by_any(p, tool_purposes))
        if not matched_purposes:
            continue
        found.append(
            CoveringTool(
                slug=tool.slug,
                name=tool.name,
                category=tool.category,
                purposes=matched_purposes,
                data_categories=tuple(
                    c for c in data_categories if covered_by_any(c, tool_categories)
                ),
                departments=tuple(sorted(grant.department.slug for grant in grants)),
            )
        )
    return sorted(found, key=lambda t: (-len(t.purposes) - len(t.data_categories), t.name))


def _connector_categories(connector: str, spec_folders: tuple[Path, ...]) -> set[str]:
    """The data categories the connector's operations are declared to carry."""
    try:
        spec = load_spec(connector, spec_folders)
    except SpecError:
        return set()
    return {c for operation in spec.operations for c in operation.data_categories.values()}


def same_vendor(
    session: Session,
    actor: Actor,
    vendor_name: str,
    website: str,
    excluding_request: int | None = None,
) -> list[SameVendor]:
    """Catalog tools in any state and open requests that look like the same vendor."""
    name, domain = name_key(vendor_name), domain_key(website)
    found = []
    for tool in session.scalars(select(Tool).order_by(Tool.name)):
        matched = _matched_by(name, domain, [tool.name, tool.slug], tool.website)
        if matched:
            found.append(SameVendor("tool", tool.name, tool.status.value, tool.slug, matched))
    open_requests = select(ToolRequest).where(ToolRequest.status.in_(OPEN))
    for request in session.scalars(open_requests.order_by(ToolRequest.id)):
        matched = _matched_by(name, domain, [request.vendor_name], request.website)
        if matched and request.id != excluding_request:
            visible = any(actor.sees(slug) for slug in request.department_slugs)
            found.append(
                SameVendor(
                    "tool_request",
                    request.vendor_name,
                    request.status.value,
                    str(request.id) if visible else None,
                    matched,
                )
            )
    return found


def _matched_by(name: str, domain: str, names: list[str], website: str | None) -> str | None:
    if name and name in {name_key(other) for other in names}:
        return "name"
    if domain and website and domain == domain_key(website):
        return "website"
    return None


def name_key(name: str) -> str:
    """``Mail Chimp`` and ``mailchimp`` are the same vendor."""
    return "".join((name or "").split()).casefold()


def domain_key(website: str) -> str:
    """``https://www.Brevo.com/fr`` and ``http://brevo.com`` are the same site."""
    text = (website or "").strip()
    if "//" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")

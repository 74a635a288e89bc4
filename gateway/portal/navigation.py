"""The portal's navigation: each page module adds its entries, shown to whoever may use them.

An entry may open a *section*: several pages listed in a sub-navigation under the header
(the auditors' pages, usage and housekeeping), so the header keeps one entry per area.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from gateway.portal.blueprint import bp


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    permission: str
    order: int
    #: Other pages of the section this entry opens (it is marked current on them too).
    covers: tuple[str, ...] = ()


@dataclass(frozen=True)
class SectionPage:
    endpoint: str
    label: str
    permission: str
    #: Pages reached from this one (a record from the log) that mark it current.
    below: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    label: str
    pages: tuple[SectionPage, ...]

    def covers(self) -> tuple[str, ...]:
        return tuple(e for page in self.pages for e in (page.endpoint, *page.below))


_ITEMS: list[NavItem] = []
_SECTIONS: list[Section] = []


def nav_item(
    endpoint: str, label: str, permission: str, order: int = 50, covers: tuple[str, ...] = ()
) -> None:
    """Lists ``portal.<endpoint>`` in the navigation for actors holding ``permission``."""
    _ITEMS.append(NavItem("portal." + endpoint, label, permission, order, covers))
    _ITEMS.sort(key=lambda item: item.order)


def nav_section(label: str, permission: str, order: int, pages: tuple[SectionPage, ...]) -> Section:
    """One entry, ``label``, opening the first of ``pages``; all of them are listed in the
    section's sub-navigation (each to whoever holds its permission)."""
    section = Section(label, pages)
    _SECTIONS.append(section)
    first = pages[0].endpoint.removeprefix("portal.")
    nav_item(first, label, permission, order, covers=section.covers())
    return section


def _current_section(actor) -> dict | None:
    for section in _SECTIONS:
        if request.endpoint in section.covers():
            pages = [page for page in section.pages if actor.may(page.permission)]
            return {"label": section.label, "pages": pages}
    return None


@bp.app_context_processor
def _navigation() -> dict:
    actor = g.get("actor")
    items = [item for item in _ITEMS if actor is not None and actor.may(item.permission)]
    section = _current_section(actor) if actor is not None else None
    return {"nav_items": items, "current_endpoint": request.endpoint, "section": section}

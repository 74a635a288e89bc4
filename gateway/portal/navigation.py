"""The portal's navigation: each page module adds its entries, shown to whoever may use them."""

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


_ITEMS: list[NavItem] = []


def nav_item(
    endpoint: str, label: str, permission: str, order: int = 50, covers: tuple[str, ...] = ()
) -> None:
    """Lists ``portal.<endpoint>`` in the navigation for actors holding ``permission``."""
    _ITEMS.append(NavItem("portal." + endpoint, label, permission, order, covers))
    _ITEMS.sort(key=lambda item: item.order)


@bp.app_context_processor
def _navigation() -> dict:
    actor = g.get("actor")
    items = [item for item in _ITEMS if actor is not None and actor.may(item.permission)]
    return {"nav_items": items, "current_endpoint": request.endpoint}

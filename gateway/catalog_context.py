"""What the catalog's views (API and portal) need from the running gateway: the connector
specs it loads, and its own address, which apps call tools at (``/proxy/<slug>``)."""

from __future__ import annotations

from flask import current_app, request

from catalog.snapshot import SpecCache
from gateway.config import config_of


def specs() -> SpecCache:
    return SpecCache(config_of(current_app).connector_folders)


def proxy_url(slug: str) -> str:
    """Where an app calls the tool: this gateway's ``/proxy/<slug>``."""
    return f"{request.url_root.rstrip('/')}/proxy/{slug}"

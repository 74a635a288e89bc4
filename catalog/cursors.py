"""Opaque cursors for the catalog's lists: the sort key of the last item a page showed.

A client pages by sending back ``next_cursor`` as it got it; anything else is refused
as a bad query, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json

from catalog.errors import CatalogRefusal


class BadCursor(CatalogRefusal):
    """The cursor is not one a list of ours returned."""

    slug = "invalid-query"
    status = 400


def make_cursor(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def read_cursor(cursor: str | None, length: int) -> list | None:
    """The key in ``cursor`` (a list of ``length`` items), or None for the first page."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadCursor("cursor is not one this API returned") from exc
    if not isinstance(key, list) or len(key) != length:
        raise BadCursor("cursor is not one this API returned")
    return key

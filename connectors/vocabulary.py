"""The fideslang vocabulary a spec may use: data categories and data uses (purposes)."""

from __future__ import annotations

from functools import cache

from fideslang.default_taxonomy import DEFAULT_TAXONOMY


@cache
def data_categories() -> frozenset[str]:
    return frozenset(category.fides_key for category in DEFAULT_TAXONOMY.data_category)


@cache
def data_uses() -> frozenset[str]:
    return frozenset(use.fides_key for use in DEFAULT_TAXONOMY.data_use)

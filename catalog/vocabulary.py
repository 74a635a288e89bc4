"""The fideslang terms said in plain words, for the catalog's filters and pages.

``marketing.communications.email`` reads "Email Communications"; the key stays next to the
label for the people who know it. Terms with no name in the taxonomy show their key.
"""

from __future__ import annotations

from functools import cache

from fideslang.default_taxonomy import DEFAULT_TAXONOMY


@cache
def _labels() -> dict[str, str]:
    terms = [*DEFAULT_TAXONOMY.data_use, *DEFAULT_TAXONOMY.data_category]
    return {term.fides_key: term.name or term.fides_key for term in terms}


def label(key: str) -> str:
    return _labels().get(key, key)


@cache
def purpose_choices() -> tuple[tuple[str, str], ...]:
    """Every data use as (key, label), parents before their children."""
    return tuple((use.fides_key, use.name) for use in _sorted(DEFAULT_TAXONOMY.data_use))


@cache
def data_category_choices() -> tuple[tuple[str, str], ...]:
    """The data categories about people (``user.*``) as (key, label)."""
    return tuple(
        (category.fides_key, category.name)
        for category in _sorted(DEFAULT_TAXONOMY.data_category)
        if category.fides_key.startswith("user")
    )


def _sorted(terms):
    return sorted(terms, key=lambda term: term.fides_key)

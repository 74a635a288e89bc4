"""The fideslang hierarchy: a key covers itself and everything below it.

``user.contact`` covers ``user.contact.email``; ``marketing`` covers
``marketing.communications.email``. Policy settings keyed by a data use or category
apply to the most specific key that has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import TypeVar

from fideslang.default_taxonomy import DEFAULT_TAXONOMY

Value = TypeVar("Value")


@cache
def known_data_uses() -> frozenset[str]:
    return frozenset(use.fides_key for use in DEFAULT_TAXONOMY.data_use)


@cache
def known_data_categories() -> frozenset[str]:
    return frozenset(category.fides_key for category in DEFAULT_TAXONOMY.data_category)


@cache
def known_data_subjects() -> frozenset[str]:
    return frozenset(subject.fides_key for subject in DEFAULT_TAXONOMY.data_subject)


def covers(parent: str, key: str) -> bool:
    return key == parent or key.startswith(parent + ".")


def covered_by_any(key: str, parents: Iterable[str]) -> bool:
    return any(covers(parent, key) for parent in parents)


def lineage(key: str) -> Iterator[str]:
    """The key, then each ancestor: ``a.b.c``, ``a.b``, ``a``."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        yield ".".join(parts[:end])


def most_specific(settings: Mapping[str, Value], key: str) -> Value | None:
    """The setting of the key or of its nearest ancestor that has one."""
    for candidate in lineage(key):
        if candidate in settings:
            return settings[candidate]
    return None

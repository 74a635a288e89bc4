"""The fideslang vocabulary as a person picks from it: grouped, in fideslang's own words.

Data uses are grouped by their top-level use (Marketing, Analytics, ...), data categories
by their second level (Contact Information, Financial Data, ...), each labelled with
fideslang's name and explained by its description.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from fideslang.default_taxonomy import DEFAULT_TAXONOMY


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    description: str


@dataclass(frozen=True)
class ChoiceGroup:
    key: str
    label: str
    choices: tuple[Choice, ...]


def _grouped(items, depth: int) -> tuple[ChoiceGroup, ...]:
    """Choices grouped by their ancestor at ``depth``; a group of one joins its own parent's
    group, so a long list of one-item groups does not hide the larger ones."""
    names = {item.fides_key: item.name or item.fides_key for item in items}
    groups: dict[str, list[Choice]] = {}
    for item in sorted(items, key=lambda item: item.fides_key):
        group = ".".join(item.fides_key.split(".")[:depth])
        groups.setdefault(group, []).append(
            Choice(item.fides_key, names[item.fides_key], item.description or "")
        )
    merged: dict[str, list[Choice]] = {}
    for key, choices in groups.items():
        home = key if len(choices) > 1 or depth == 1 else key.split(".")[0]
        merged.setdefault(home, []).extend(choices)
    shared = {key.split(".")[0] for key in merged if "." in key}
    ordered = sorted(merged, key=lambda key: (key in shared, key))
    return tuple(
        ChoiceGroup(key, _group_label(names, key, key in shared), tuple(merged[key]))
        for key in ordered
    )


def _group_label(names: dict[str, str], key: str, has_subgroups: bool) -> str:
    """ "User Data: other" for what is left of a branch whose larger parts have groups."""
    return f"{names.get(key, key)}: other" if has_subgroups else names.get(key, key)


@cache
def data_use_groups() -> tuple[ChoiceGroup, ...]:
    return _grouped(DEFAULT_TAXONOMY.data_use, 1)


@cache
def data_category_groups() -> tuple[ChoiceGroup, ...]:
    return _grouped(DEFAULT_TAXONOMY.data_category, 2)


@cache
def labels() -> dict[str, str]:
    """Every data use's and data category's plain name, by key."""
    return {
        choice.key: choice.label
        for group in (*data_use_groups(), *data_category_groups())
        for choice in group.choices
    }

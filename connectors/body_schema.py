"""Request bodies are closed unless a spec opens them, and what is open is searched.

A member the operation's schema does not declare could carry anything, a person's
e-mail address included, past every rule that reads declared fields. So when a spec is
loaded, every object schema that says nothing about undeclared members gets
``additionalProperties: false``. A spec opens a part on purpose, where the vendor's API
takes members of the app's choosing (custom properties, event parameters), with
``additionalProperties: true`` (or a schema for their values) or ``patternProperties``.
A declared free-text field (a note, a message) carries ``x-gatehouse-free-text: true``.
:func:`open_values` finds the values in open parts and free-text fields of a document,
which are then searched for identifiers.

Sub-schemas of ``allOf``/``anyOf``/``oneOf``/``if``/``then``/``else`` that state no
``type`` are further conditions on the same object (``{required: [email]}``), not
objects of their own: they are left as they are, members and all (closing a condition
would change when it holds), and the members they name count as declared by the object
they qualify, as do the members any of them requires. A sub-schema that states a
``type`` is an alternative shape of the object, and is closed like it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

FREE_TEXT = "x-gatehouse-free-text"
_OPENERS = ("additionalProperties", "patternProperties", "unevaluatedProperties")
_BRANCH_LISTS = ("allOf", "anyOf", "oneOf")
_BRANCH_ONES = ("if", "then", "else")


def closed(schema: dict) -> dict:
    """A copy of a body schema in which every object not opened on purpose is closed."""
    result = copy.deepcopy(schema)
    _close(result)
    return result


def _close(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    if _describes_object(schema) and not any(key in schema for key in _OPENERS):
        properties = schema.setdefault("properties", {})
        for owner in (schema, *_branches(schema)):
            for name in [*owner.get("properties", {}), *owner.get("required", [])]:
                properties.setdefault(name, True)
        schema["additionalProperties"] = False
    for child in _children(schema):
        _close(child)


def _describes_object(schema: dict) -> bool:
    kind = schema.get("type")
    return (
        kind == "object"
        or (isinstance(kind, list) and "object" in kind)
        or ("properties" in schema)
    )


def _branches(schema: dict) -> Iterator[dict]:
    """The conditions on the same instance, nested ones included."""
    for key in _BRANCH_LISTS:
        for branch in schema.get(key, []):
            if isinstance(branch, dict):
                yield branch
                yield from _branches(branch)
    for key in _BRANCH_ONES:
        branch = schema.get(key)
        if isinstance(branch, dict):
            yield branch
            yield from _branches(branch)


def _children(schema: dict) -> Iterator[Any]:
    """Sub-schemas that describe values of their own: members, items, typed alternatives."""
    yield from schema.get("properties", {}).values()
    yield from schema.get("patternProperties", {}).values()
    yield from schema.get("prefixItems", [])
    for key in ("additionalProperties", "items"):
        if isinstance(schema.get(key), dict):
            yield schema[key]
    yield from (branch for branch in _branches(schema) if "type" in branch)


def open_values(schema: Any, node: Any, where: tuple[str, ...] = ()) -> Iterator[tuple]:
    """Each ``(path, value)`` of a valid document that lies in an open part or a
    free-text field; ``path`` is a tuple of the pointer's parts."""
    if not isinstance(schema, dict):
        return
    if schema.get(FREE_TEXT):
        yield where, node
        return
    branches = tuple(_branches(schema))
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _member((schema, *branches), name, value, (*where, name))
    elif isinstance(node, list):
        prefix = schema.get("prefixItems", [])
        for index, item in enumerate(node):
            item_schema = prefix[index] if index < len(prefix) else schema.get("items")
            yield from open_values(item_schema, item, (*where, str(index)))
    for branch in branches:
        if "type" in branch:
            yield from open_values(branch, node, where)


def _member(owners: tuple[dict, ...], name: str, value: Any, where: tuple[str, ...]) -> Iterator:
    """``owners``: the object's schema, then its conditions."""
    declared = [
        owner["properties"][name] for owner in owners if name in owner.get("properties", {})
    ]
    if declared:
        for member_schema in declared:
            yield from open_values(member_schema, value, where)
    elif _undeclared_allowed(owners[0], name):
        yield where, value


def _undeclared_allowed(schema: dict, name: str) -> bool:
    patterns = schema.get("patternProperties", {})
    matched = any(re.search(pattern, name) for pattern in patterns)
    return matched or schema.get("additionalProperties", True) is not False

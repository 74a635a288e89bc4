"""JSON pointers (RFC 6901) with ``*`` standing for every array item or object member.

Specs say where personal data sits in a body: ``/email_address``, or
``/members/*/email_address`` for each member of a batch. Resolving yields every
concrete pointer that exists, with its value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

WILDCARD = "*"


def parse(pointer: str) -> tuple[str, ...]:
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {pointer!r}")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/"))


def render(parts: tuple[str, ...]) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def resolve(document: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    """Each ``(concrete pointer, value)`` the pointer reaches in the document."""
    for parts, value in _walk(document, parse(pointer), ()):
        yield render(parts), value


def _walk(node: Any, remaining: tuple[str, ...], seen: tuple[str, ...]):
    if not remaining:
        yield seen, node
        return
    head, rest = remaining[0], remaining[1:]
    for key, child in _children(node, head):
        yield from _walk(child, rest, (*seen, key))


def _children(node: Any, step: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        if step == WILDCARD:
            yield from ((str(key), value) for key, value in node.items())
        elif step in node:
            yield step, node[step]
    elif isinstance(node, list):
        if step == WILDCARD:
            yield from ((str(index), value) for index, value in enumerate(node))
        elif step.isdigit() and int(step) < len(node) and (step == "0" or step[0] != "0"):
            yield step, node[int(step)]


def remove(document: Any, pointers: list[str]) -> None:
    """Delete the members and array items at these concrete pointers, in place.

    Array items go from the highest index down, so removing one never shifts another.
    """
    located = [parse(pointer) for pointer in pointers]
    for parts in sorted(located, key=_removal_order, reverse=True):
        parent = _follow(document, parts[:-1])
        if isinstance(parent, dict):
            parent.pop(parts[-1], None)
        elif isinstance(parent, list) and parts[-1].isdigit() and int(parts[-1]) < len(parent):
            del parent[int(parts[-1])]


def _removal_order(parts: tuple[str, ...]) -> tuple:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in parts)


def _follow(node: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        found = dict(_children(node, part))
        if part not in found:
            return None
        node = found[part]
    return node

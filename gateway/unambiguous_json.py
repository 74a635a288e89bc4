"""Reading a JSON body as one unambiguous document, or refusing it: the proxy's bodies
and the API's alike.

The gateway checks the parsed document but forwards the bytes, so the bytes must mean
the same document to every reader, the vendor's included. A member named twice is read
as the first value by some parsers and the last by others, so a person could be checked
under one value and sent under the other; ``NaN`` and ``Infinity`` are not JSON and
parsers disagree about them; a lone surrogate (``"\\ud800"``) or invalid UTF-8 has no
agreed text. All of these are refused, each with the pointer where it sits, and so is
nesting deeper than :data:`MAX_DEPTH` (no vendor API needs it, and it costs every
recursive reader).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from connectors.pointers import render

#: The deepest nesting of objects and arrays accepted (the top-level value is depth 1).
MAX_DEPTH = 32

_SURROGATE = re.compile("[\ud800-\udfff]")
#: An escaped surrogate, paired or not: only these can put one in a parsed string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Unreadable:
    """Why the body is not one unambiguous JSON document, and where."""

    pointer: str
    message: str


class AmbiguousJSON(ValueError):
    def __init__(self, problems: list[Unreadable]) -> None:
        super().__init__(problems[0].message)
        self.problems = problems


class _Members(list):
    """An object's members as parsed, in order, duplicates kept, until they are checked."""


@dataclass(frozen=True)
class _NotJSON:
    """``NaN``, ``Infinity`` or ``-Infinity`` where a number was expected."""

    text: str


def parse_document(body: bytes) -> Any:
    """The JSON document of a body, refusing anything two readers could read differently.

    The usual body is parsed once, at the speed of ``json``; only one that may hold a
    problem (or a surrogate pair escape) is parsed again, slowly, to say where."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AmbiguousJSON([Unreadable("", f"not UTF-8 (byte {exc.start})")]) from exc
    try:
        document = json.loads(text, object_pairs_hook=_unique, parse_constant=_not_a_number)
    except _Unclear:
        return _located(text)
    except RecursionError as exc:
        raise AmbiguousJSON([_too_deep(())]) from exc
    except ValueError as exc:  # JSONDecodeError: its message names a position, not data
        raise AmbiguousJSON([Unreadable("", f"not valid JSON: {exc}")]) from exc
    if _deeper_than(document, MAX_DEPTH) or _SURROGATE_ESCAPE.search(text):
        return _located(text)
    return document


class _Unclear(Exception):
    """Something :func:`_located` must find."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Unclear
    return members


def _not_a_number(text: str) -> Any:
    raise _Unclear


def _deeper_than(document: Any, limit: int) -> bool:
    level, depth = [document], 0
    while level:
        containers = [node for node in level if isinstance(node, dict | list)]
        depth += bool(containers)
        if depth > limit:
            return True
        level = [
            child
            for node in containers
            for child in (node.values() if isinstance(node, dict) else node)
        ]
    return False


def _located(text: str) -> Any:
    """The document, read again keeping what the fast parse cannot: every problem is
    reported with its pointer (and the document returned if there is none)."""
    parsed = json.loads(text, object_pairs_hook=_Members, parse_constant=_NotJSON)
    problems: list[Unreadable] = []
    document = _checked(parsed, (), problems)
    if problems:
        raise AmbiguousJSON(problems)
    return document


def _checked(node: Any, where: tuple[str, ...], problems: list[Unreadable]) -> Any:
    if isinstance(node, _Members | list) and len(where) >= MAX_DEPTH:
        problems.append(_too_deep(where))
        return None
    if isinstance(node, _Members):
        return _object(node, where, problems)
    if isinstance(node, list):
        return [_checked(item, (*where, str(index)), problems) for index, item in enumerate(node)]
    if isinstance(node, _NotJSON):
        problems.append(Unreadable(render(where), f"{node.text} is not a JSON number"))
    elif isinstance(node, str) and _SURROGATE.search(node):
        problems.append(Unreadable(render(where), "holds a lone UTF-16 surrogate"))
    return node


def _object(members: _Members, where: tuple[str, ...], problems: list[Unreadable]) -> dict:
    document: dict[str, Any] = {}
    for name, value in members:
        inside = (*where, name)
        if _SURROGATE.search(name):
            problems.append(Unreadable(render(inside), "the name holds a lone UTF-16 surrogate"))
        if name in document:
            problems.append(Unreadable(render(inside), "this member is named more than once"))
        document[name] = _checked(value, inside, problems)
    return document


def _too_deep(where: tuple[str, ...]) -> Unreadable:
    return Unreadable(render(where), f"nested deeper than {MAX_DEPTH} objects and arrays")

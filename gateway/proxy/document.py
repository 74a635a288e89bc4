"""Reading a JSON body as one unambiguous document, or refusing it.

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
    """The JSON document of a body, refusing anything two readers could read differently."""
    try:
        text = body.decode("utf-8")
        parsed = json.loads(text, object_pairs_hook=_Members, parse_constant=_NotJSON)
    except UnicodeDecodeError as exc:
        raise AmbiguousJSON([Unreadable("", f"not UTF-8 (byte {exc.start})")]) from exc
    except RecursionError as exc:
        raise AmbiguousJSON([_too_deep(())]) from exc
    except ValueError as exc:  # JSONDecodeError: its message names a position, not data
        raise AmbiguousJSON([Unreadable("", f"not valid JSON: {exc}")]) from exc
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

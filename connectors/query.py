"""The query string of a call as its operation's schema reads it, and as the vendor will.

The gateway forwards the app's query string, so each parameter must have one reading:
one given twice could be checked by its first value and read by the vendor by its last,
so it is refused unless the schema takes an array there; a value that is not UTF-8 once
percent-decoded has no agreed text. Parameters the schema does not name are open, as the
open parts of a body are: e-mail addresses and phone numbers in them name data subjects
(``query:<name>``), so a lookup by someone's address needs their consent like a body
that names them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from connectors.classify import Classification, Violation, with_people_named_in
from connectors.pointers import render
from connectors.spec import Operation

#: How a subject or data found in the query is located: ``query:email``.
QUERY_LOCATION = "query:"


def query_document(
    operation: Operation, query_string: str, ignored: Iterable[str] = ()
) -> tuple[dict[str, Any], list[Violation]]:
    """The query as an object for the schema (a repeated parameter is a list where the
    schema takes an array), and the violations of a query with more than one reading.
    ``ignored`` are parameters the gateway reads and removes itself (the app's token)."""
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return {}, [Violation("", "the query string is not UTF-8 once percent-decoded")]
    given: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in ignored:
            given.setdefault(name, []).append(value)
    declared = _declared(operation)
    document: dict[str, Any] = {}
    violations = []
    for name, values in given.items():
        if len(values) == 1:
            document[name] = values[0]
        elif _takes_array(declared.get(name)):
            document[name] = values
        else:
            violations.append(
                Violation(render((name,)), "is given more than once; the vendor might read either")
            )
    return document, violations


def with_query_subjects(
    classification: Classification, operation: Operation, query: Mapping[str, Any]
) -> Classification:
    """The classification, with the people named in parameters the schema leaves open."""
    declared = _declared(operation)
    return with_people_named_in(
        classification,
        ((QUERY_LOCATION + name, value) for name, value in query.items() if name not in declared),
    )


def _declared(operation: Operation) -> Mapping[str, Any]:
    validator = operation.query_validator
    return validator.schema.get("properties", {}) if validator is not None else {}


def _takes_array(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    return kind == "array" or (isinstance(kind, list) and "array" in kind)

"""Reading what a client sends to the JSON API, before any of it reaches a service.

Every endpoint reads its query, path ids and body through here, so a malformed input
is a 4xx problem saying what is wrong, never a 500 from the database or the standard
library. No query value holds a NUL (PostgreSQL refuses it mid-query) or runs past
:data:`MAX_QUERY_VALUE`; integers are plain ASCII digits in range (``int()`` would also
take '١٢', '1_000', ' 12 ' and '+3'); a JSON body is read as the proxy reads one (one
unambiguous document: no member named twice, no NaN, no lone surrogate, UTF-8, nested
at most 32 deep) and holds no NUL, which no column can store. Query parameters and
bodies match the schemas the OpenAPI document gives them, so what is published is what
is enforced.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request
from jsonschema import ValidationError

from connectors.pointers import render
from gateway.api.document import QueryParameter, body_validator, query_parameters
from gateway.db import BIGINT_RANGE, UNSTORABLE
from gateway.errors import Problem
from gateway.unambiguous_json import AmbiguousJSON, parse_document

MAX_QUERY_VALUE = 1000
#: Ids are BigInteger columns.
MAX_ID = BIGINT_RANGE[1]
#: Errors listed in one problem; a body of a thousand bad events needs no more to be fixed.
MAX_ERRORS_LISTED = 100
API_PREFIX = "/api/v1"
_PLAIN_INTEGER = re.compile(r"[0-9]{1,19}")
_ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


def invalid_query(detail: str) -> Problem:
    return Problem(400, "invalid-query", "Invalid query", detail)


def invalid_body(detail: str, errors: list[dict] | None = None) -> Problem:
    extra = {"errors": errors} if errors else {}
    return Problem(422, "invalid-body", "Invalid request", detail, extra=extra)


def check_query() -> None:
    """Before every API view: no parameter reaches a service holding what no column can,
    and each one the operation declares matches its schema in the OpenAPI document."""
    for name, value in request.args.items(multi=True):
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            raise invalid_query(f"the query parameter {_shown(name)} holds a NUL character")
        if len(value) > MAX_QUERY_VALUE:
            raise invalid_query(f"{_shown(name)} is longer than {MAX_QUERY_VALUE} characters")
    if request.url_rule is None:
        return
    path = _ROUTE_PARAMETER.sub(r"{\1}", request.url_rule.rule.removeprefix(API_PREFIX))
    for parameter in query_parameters(path, request.method):
        for text in request.args.getlist(parameter.name):
            _check_parameter(parameter, text)


def _check_parameter(parameter: QueryParameter, text: str) -> None:
    if parameter.is_integer:
        low, high = parameter.schema.get("minimum", 0), parameter.schema.get("maximum", MAX_ID)
        if _whole_number(text, low, high) is None:
            raise _not_a_whole_number(parameter.name, low, high)
        return
    error = next(parameter.validator.iter_errors(text), None)
    if error is not None:
        raise invalid_query(f"{parameter.name} {_message(error)}")


def query_integer(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    number = _whole_number(text, low, high)
    if number is None:
        raise _not_a_whole_number(name, low, high)
    return number


def path_id(text: str, what: str) -> int:
    """The id in a path; anything else names no resource."""
    number = _whole_number(text, 1, MAX_ID)
    if number is not None:
        return number
    raise Problem(
        404,
        "not-found",
        "Not found",
        f"no {what} {_shown(text)}: {what} ids are whole numbers from 1 to {MAX_ID}",
    )


def json_body() -> Any:
    """The request's JSON document, refused if it is not JSON or holds what no column can."""
    if not request.is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        )
    try:
        document = parse_document(request.get_data())
    except AmbiguousJSON as exc:
        raise invalid_body(
            "the body is not one unambiguous JSON document",
            [{"pointer": problem.pointer, "message": problem.message} for problem in exc.problems],
        ) from exc
    pointer = _first_unstorable(document)
    if pointer is not None:
        raise invalid_body(
            "the body holds a NUL character or a lone surrogate, which cannot be stored",
            [{"pointer": pointer, "message": "holds a NUL character or a lone surrogate"}],
        )
    return document


def check_body(document: Any, schema_name: str) -> None:
    """Refuse ``document`` unless it matches ``#/components/schemas/<schema_name>``."""
    errors = [
        {"pointer": _pointer(error.absolute_path), "message": _message(error)}
        for error in body_validator(schema_name).iter_errors(document)
    ]
    if errors:
        raise invalid_body(
            "the body does not match its schema (see /api/v1/openapi.json)",
            errors[:MAX_ERRORS_LISTED],
        )


def _whole_number(text: str, low: int, high: int) -> int | None:
    """``text`` as a number if it is plain ASCII digits within ``low``..``high``."""
    if _PLAIN_INTEGER.fullmatch(text) and low <= int(text) <= high:
        return int(text)
    return None


def _not_a_whole_number(name: str, low: int, high: int) -> Problem:
    return invalid_query(f"{name} must be a whole number from {low} to {high} (ASCII digits)")


def _first_unstorable(document: Any) -> str | None:
    """The pointer of the first string (key or value) no database can store, if any.
    Walked without recursion: a body may be nested as deep as the parser allows."""
    pending: list[tuple[list, Any]] = [([], document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and UNSTORABLE.search(value):
            return _pointer(path)
        if isinstance(value, dict):
            for key, item in value.items():
                if UNSTORABLE.search(key):
                    return _pointer(path)
                pending.append(([*path, key], item))
        elif isinstance(value, list):
            pending.extend(([*path, index], item) for index, item in enumerate(value))
    return None


def _pointer(path) -> str:
    """The JSON pointer of a path of keys and indexes."""
    return render(tuple(map(str, path)))


def _message(error: ValidationError) -> str:
    """What is wrong, said after the name of what it is wrong with."""
    value = error.validator_value
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, value))}"
    if error.validator in ("pattern", "oneOf", "anyOf") and "description" in error.schema:
        return f"must be {error.schema['description']}"
    if error.validator == "maxLength":
        return f"must be at most {value} characters"
    if error.validator == "minLength":
        return f"must be at least {value} characters"
    if error.validator == "type":
        return f"must be of type {value if isinstance(value, str) else ' or '.join(value)}"
    return "is wrong: " + (
        error.message[:200] + "..." if len(error.message) > 200 else error.message
    )


def _shown(text: str) -> str:
    """User text quoted in a detail: escaped, and short."""
    return repr(text[:50] + ("..." if len(text) > 50 else ""))

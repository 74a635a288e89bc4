"""Reading one call against its tool's connector spec, before any decision.

The operation must be declared (deny by default); the body must be one unambiguous
JSON document, and it and the query must match the operation's schemas, every
violation reported with the pointer of the bad field; then the data categories and the
data subjects it carries are found (in the body, the query and the headers the vendor
would get), subjects kept only as keyed hashes. The operation
and purpose are known first, so a refusal of the body is recorded with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Request

from catalog.snapshot import ToolView
from connectors.classify import (
    Classification,
    classify,
    validate_body,
    validate_query,
    with_people_named_in,
)
from connectors.pointers import remove, resolve
from connectors.query import query_document, with_query_subjects
from connectors.spec import Operation
from connectors.vocabulary import data_uses
from gateway.errors import Problem
from gateway.proxy.body import request_body, request_document
from gateway.proxy.refusal import refusal
from gateway.unambiguous_json import AmbiguousJSON
from gateway.upstream import forwarded_request_headers
from policies.subjects import subject_key

PURPOSE_HEADER = "X-Purpose"
#: How a subject found in a request header is located: ``header:x-contact``.
HEADER_LOCATION = "header:"


@dataclass(frozen=True)
class Call:
    """The declared operation a call matched, its path values and its purpose."""

    operation: Operation
    path_params: dict[str, str]
    purpose: str


@dataclass(frozen=True)
class Inspection:
    operation: Operation
    purpose: str
    body: bytes
    #: The parsed JSON body (``None`` without one).
    document: Any
    classification: Classification
    #: Keyed hashes of the subjects, ``None`` where an identifier could not be read.
    subject_keys: tuple[str | None, ...]
    #: The app's headers that may reach the vendor, as checked.
    headers: dict[str, str]


def requested_purpose(request: Request) -> str | None:
    """The purpose the app names, if it is a data use: known before the operation is."""
    purpose = request.headers.get(PURPOSE_HEADER, "").strip()
    return purpose if purpose in data_uses() else None


def match_call(request: Request, tool: ToolView, path: str) -> Call:
    operation, path_params = _declared_operation(tool, request.method, path)
    return Call(operation, path_params, _purpose(request, operation))


def inspect_call(request: Request, tool: ToolView, call: Call, pepper: bytes) -> Inspection:
    operation = call.operation
    body = request_body(request)
    document = _parse_body(request, operation)
    if _remove_app_token(tool, document):
        body = json.dumps(document).encode()
    query, unclear = query_document(
        operation, request.query_string.decode("latin-1"), ignored=tool.spec.app_token_params
    )
    violations = validate_body(operation, document) + unclear + validate_query(operation, query)
    if violations:
        raise _invalid(
            f"the request does not match operation {operation.id!r} of {tool.slug!r}",
            [violation.as_dict() for violation in violations],
        )
    headers = forwarded_request_headers(request.headers, tool.spec.app_token_headers)
    classification = with_people_named_in(
        with_query_subjects(classify(operation, document, call.path_params), operation, query),
        _header_values(headers),
    )
    keys = tuple(
        subject_key(pepper, subject.kind, subject.identifier) for subject in classification.subjects
    )
    return Inspection(operation, call.purpose, body, document, classification, keys, headers)


def _header_values(headers: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Where people may be named outside the body: any header the vendor gets but the
    user agent, which names software (and sometimes its maker's support address)."""
    for name, value in headers.items():
        if name.lower() != "user-agent":
            yield HEADER_LOCATION + name.lower(), value


def _remove_app_token(tool: ToolView, document: Any) -> bool:
    """Take the app's token out of the body (where an SDK copies its key); True if found."""
    pointers = [
        pointer
        for location in tool.spec.app_token
        if location.kind == "body"
        for pointer, _ in resolve(document, location.pointer)
    ]
    remove(document, pointers)
    return bool(pointers)


def _declared_operation(tool: ToolView, method: str, path: str) -> tuple[Operation, dict]:
    found = tool.spec.operation_for(method, path)
    if found is None:
        raise refusal(
            403,
            "operation-not-declared",
            "Operation not declared",
            "operation_not_declared",
            # The path is not repeated: the record keeps this message, and a path may
            # name a person.
            f"the {tool.spec.name} connector declares no {method} operation at this path; "
            "only declared operations pass",
        )
    return found


def _purpose(request: Request, operation: Operation) -> str:
    purpose = request.headers.get(PURPOSE_HEADER, "").strip() or operation.default_purpose
    if purpose not in data_uses():
        raise refusal(
            400,
            "invalid-purpose",
            "Invalid purpose",
            "purpose",
            f"{PURPOSE_HEADER} must be a fideslang data use such as "
            f"'marketing.communications.email', not {purpose[:100]!r}",
        )
    return purpose


def _parse_body(request: Request, operation: Operation) -> Any:
    if operation.body_validator is None:
        if request_body(request):
            raise refusal(
                422,
                "unexpected-body",
                "Unexpected body",
                "unexpected_body",
                f"operation {operation.id!r} takes no request body",
            )
        return None
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if (
        not request.mimetype
        or not (request.mimetype == "application/json" or request.mimetype.endswith("+json"))
        or charset != "utf-8"  # the body is checked as UTF-8: a vendor must read it so too
        or coding not in ("", "identity")  # nor read compressed bytes the gateway did not
    ):
        raise refusal(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "unsupported_media_type",
            f"operation {operation.id!r} takes an uncompressed JSON body in UTF-8 "
            "(application/json, no Content-Encoding)",
        )
    try:
        return request_document(request)
    except AmbiguousJSON as exc:
        raise _invalid(
            "the body is not one unambiguous JSON document",
            [{"pointer": p.pointer, "message": p.message} for p in exc.problems],
        ) from exc


def _invalid(message: str, errors: list[dict[str, str]]) -> Problem:
    return refusal(
        422, "invalid-body", "Invalid request", "invalid_body", message, extra={"errors": errors}
    )

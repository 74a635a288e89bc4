"""Reading one call against its tool's connector spec, before any decision.

The operation must be declared (deny by default); the body and query must match its
schemas, every violation reported with the pointer of the bad field; then the data
categories and the data subjects it carries are found, subjects kept only as keyed
hashes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Request, current_app
from werkzeug.exceptions import RequestEntityTooLarge

from catalog.snapshot import ToolView
from connectors.classify import Classification, classify, validate_body, validate_query
from connectors.pointers import remove, resolve
from connectors.spec import Operation
from connectors.vocabulary import data_uses
from gateway.errors import Problem
from gateway.proxy.refusal import refusal
from policies.subjects import subject_key

PURPOSE_HEADER = "X-Purpose"


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


def inspect_call(request: Request, tool: ToolView, path: str, pepper: bytes) -> Inspection:
    operation, path_params = _declared_operation(tool, request.method, path)
    purpose = _purpose(request, operation)
    body = _read_body(request)
    document = _parse_body(request, operation, body)
    if _remove_app_token(tool, document):
        body = json.dumps(document).encode()
    violations = validate_body(operation, document) + validate_query(
        operation, request.args.to_dict()
    )
    if violations:
        raise Problem(
            422,
            "invalid-body",
            "Invalid request",
            f"the request does not match operation {operation.id!r} of {tool.slug!r}",
            extra={"errors": [violation.as_dict() for violation in violations]},
        )
    classification = classify(operation, document, path_params)
    keys = tuple(
        subject_key(pepper, subject.kind, subject.identifier) for subject in classification.subjects
    )
    return Inspection(operation, purpose, body, document, classification, keys)


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
            f"{method} /{path} is not an operation the {tool.spec.name} connector declares; "
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


def _read_body(request: Request) -> bytes:
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge as exc:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        raise refusal(
            413,
            "body-too-large",
            "Body too large",
            "request_size",
            f"the request body exceeds {limit} bytes",
        ) from exc


def _parse_body(request: Request, operation: Operation, body: bytes) -> Any:
    if operation.body_validator is None:
        if body:
            raise Problem(
                422,
                "unexpected-body",
                "Unexpected body",
                f"operation {operation.id!r} takes no request body",
            )
        return None
    if not request.mimetype or not (
        request.mimetype == "application/json" or request.mimetype.endswith("+json")
    ):
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"operation {operation.id!r} takes a JSON body (Content-Type: application/json)",
        )
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(
            422,
            "invalid-body",
            "Invalid request",
            "the body is not valid JSON",
            extra={"errors": [{"pointer": "", "message": f"not valid JSON: {exc}"}]},
        ) from exc

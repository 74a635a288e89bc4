"""The parts of the OpenAPI document that are not one operation's: its title, how a
caller authenticates, the problem shape, and the query parameters and answers many
operations share.

Operations (``gateway.api.operations``) refer to these by ``$ref``; the document
(``gateway.api.document``) is this frame with the declared operations and schemas added.
"""

from __future__ import annotations

from gateway.api.operations import api_spec, ref
from gateway.identity.roles import PERMISSIONS

INFO = {
    "title": "Gatehouse API",
    "version": "1",
    "description": (
        "The JSON API of the Gatehouse gateway. Every endpoint but this document takes a "
        "signed-in user's portal session or a gateway access token (`POST /oauth/token`, "
        "client credentials) holding the permission it names as a scope. Errors are "
        "RFC 9457 problem details."
    ),
}

SECURITY_SCHEMES = {
    "gatewayToken": {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": dict(PERMISSIONS)}},
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "gatehouse_session",
        "description": "A signed-in user's portal session; the user's role grants the "
        "permissions. A change needs the portal's CSRF token in `X-CSRFToken`.",
    },
}

PROBLEM = api_spec.schema(
    "Problem",
    {
        "type": "object",
        "required": ["type", "title", "status", "detail", "request_id"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "request_id": {"type": "string"},
            "errors": {
                "type": "array",
                "description": "each problem of a refused body",
                "items": {
                    "type": "object",
                    "required": ["pointer", "message"],
                    "properties": {
                        "pointer": {
                            "type": "string",
                            "description": "RFC 6901 JSON pointer into the body",
                        },
                        "message": {"type": "string"},
                    },
                },
            },
            "reasons": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"rule": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
)

QUERY_TEXT = api_spec.schema(
    "QueryText", {"type": "string", "maxLength": 1000, "description": "any text but NUL"}
)
DOTTED_KEY = api_spec.schema(
    "DottedKey",
    {
        "type": "string",
        "pattern": r"^([a-z0-9_]+(\.[a-z0-9_]+)*)?$",
        "description": "a dotted key such as marketing.communications, or empty for any",
        "maxLength": 200,
    },
)
STORED_TIME = api_spec.schema(
    "StoredTime",
    {
        "type": "string",
        "maxLength": 40,
        "description": "ISO 8601 with a zone, from 1900-01-01 to 9999-12-30 (UTC); "
        "others are refused.",
    },
)


def _query(name: str, schema: dict, description: str = "") -> dict:
    parameter = {"name": name, "in": "query", "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


PARAMETERS = {
    "since": _query(
        "since",
        {"type": "string", "maxLength": 40},
        "ISO 8601 date or time (UTC unless zoned), 1900 to 9999-12-30",
    ),
    "until": _query("until", {"type": "string", "maxLength": 40}, "a date covers its whole day"),
    "tool": _query("tool", QUERY_TEXT),
    "department": _query("department", QUERY_TEXT),
    "client": _query("client", QUERY_TEXT, "client id of the app"),
    "decision": _query("decision", {"enum": ["allow", "redact", "deny"]}),
    "rule": _query(
        "rule",
        {
            "type": "string",
            "pattern": "^[a-z0-9_]*$",
            "maxLength": 100,
            "description": "a snake_case rule name, or empty for any",
        },
        "a rule that objected",
    ),
    "purpose": _query("purpose", DOTTED_KEY, "a fideslang data use and those below it"),
    "category": _query("category", DOTTED_KEY, "a fideslang data category and those below it"),
    "email": _query(
        "email", {"type": "string", "maxLength": 320}, "the person; hashed on arrival, never stored"
    ),
    "phone": _query("phone", {"type": "string", "maxLength": 40}),
    "external_id": _query("external_id", {"type": "string", "maxLength": 500}),
    "limit": _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        "ASCII digits only",
    ),
}


#: ``limit`` and ``cursor`` of a list read a page at a time (``catalog.cursors``).
PAGE_QUERY = (
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
    _query("cursor", {"type": "string", "maxLength": 200}, "next_cursor of the previous page"),
)


def parameters(*names: str) -> tuple[dict, ...]:
    """``$ref``s to the shared query parameters ``names``, for an operation's ``query``."""
    return tuple(ref("parameters", name) for name in names)


def _problem_answer(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM}},
    }


RESPONSES = {
    "Problem": _problem_answer("The request was refused; `detail` says why."),
    "NotFound": _problem_answer(
        "No such object, or one of a department the caller does not act for."
    ),
    "InvalidQuery": _problem_answer(
        "A query parameter cannot be read (or holds a NUL, or is over 1000 characters)."
    ),
    "Unauthorized": _problem_answer(
        "No token or session, or the token is malformed, forged, expired, revoked or "
        "too long-lived."
    ),
    "Forbidden": _problem_answer(
        "The token or the user's role lacks the operation's permission, or a session "
        "change came without its CSRF token."
    ),
    "Unavailable": _problem_answer(
        "The database cannot be reached just now (`database-unavailable`); nothing was "
        "done. `Retry-After` says when to try again."
    ),
}


def frame() -> dict:
    """The document without its operations and named schemas."""
    return {
        "openapi": "3.1.0",
        "info": dict(INFO),
        "servers": [{"url": "/api/v1"}],
        "security": [{"gatewayToken": []}],
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": {},
            "parameters": PARAMETERS,
            "responses": RESPONSES,
        },
        "paths": {},
    }

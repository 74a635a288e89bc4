"""Drafting a connector spec from a vendor's OpenAPI 3 document.

The draft carries what the OpenAPI document knows: base URL, authentication,
operations and their request schemas (local ``$ref``s inlined). What only IT can
say is left empty on purpose: every leaf field of each body is listed in
``data_categories`` with no category, and ``default_purpose`` is empty, so the draft
fails validation until IT has classified each field (or deleted the ones that carry
no personal data).
"""

from __future__ import annotations

import re
from typing import Any

from connectors.pointers import render

METHODS = ("get", "post", "put", "patch", "delete")
MAX_DEPTH = 8


class OpenAPIError(ValueError):
    """The document is not an OpenAPI 3 document this can draft from."""


def draft_spec(document: Any, vendor: str) -> dict:
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3"):
        raise OpenAPIError("not an OpenAPI 3 document (no 'openapi: 3.x' at the top)")
    resolver = _Resolver(document)
    credentials, auth, app_token = _security(document)
    operations = [
        _operation(path, method, resolver.inline(item[method]))
        for path, item in sorted((document.get("paths") or {}).items())
        for method in METHODS
        if isinstance(item, dict) and method in item
    ]
    servers = document.get("servers") or [{}]
    return {
        "vendor": vendor,
        "name": (document.get("info") or {}).get("title", vendor),
        "docs": (document.get("externalDocs") or {}).get("url", ""),
        "base_url": servers[0].get("url", "https://api.example.invalid"),
        "credentials": credentials,
        "auth": auth,
        "app_token": app_token,
        "operations": operations,
    }


def _operation(path: str, method: str, operation: dict) -> dict:
    entry: dict[str, Any] = {
        "id": _operation_id(path, method, operation),
        "summary": operation.get("summary", ""),
        "method": method.upper(),
        "path": path,
        "default_purpose": None,
    }
    schema = (
        ((operation.get("requestBody") or {}).get("content") or {})
        .get("application/json", {})
        .get("schema")
    )
    if schema is not None:
        entry["body"] = schema
        entry["data_categories"] = {pointer: None for pointer in leaf_pointers(schema)}
    return entry


def leaf_pointers(schema: dict, parts: tuple[str, ...] = ()) -> list[str]:
    """The pointer of every scalar field a body of this schema can have."""
    if len(parts) > MAX_DEPTH or not isinstance(schema, dict):
        return [render(parts)] if parts else []
    if schema.get("properties"):
        return [
            pointer
            for name, child in schema["properties"].items()
            for pointer in leaf_pointers(child, (*parts, name))
        ]
    if isinstance(schema.get("items"), dict):
        return leaf_pointers(schema["items"], (*parts, "*"))
    return [render(parts)] if parts else []


def _operation_id(path: str, method: str, operation: dict) -> str:
    raw = operation.get("operationId") or f"{method}_{path}"
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", raw).lower()
    return re.sub(r"[^a-z0-9]+", "_", snake).strip("_")[:64] or method


def _security(document: dict) -> tuple[dict, dict, list]:
    """Credentials, auth strategy and app token location from the first security scheme."""
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    scheme = next(iter(schemes.values()), {"type": "http", "scheme": "bearer"})
    secret = {"description": "API key", "secret": True}
    if scheme.get("type") == "apiKey" and scheme.get("in") in ("header", "query"):
        place = scheme["in"]
        return (
            {"api_key": secret},
            {"type": place, "name": scheme["name"], "value": "{api_key}"},
            [{"kind": place, "name": scheme["name"]}],
        )
    if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "basic":
        return (
            {"username": {"description": "user name", "secret": False}, "password": secret},
            {"type": "basic", "username": "{username}", "password": "{password}"},
            [{"kind": "basic", "part": "password"}],
        )
    flows = scheme.get("flows") or {}
    if scheme.get("type") == "oauth2" and "clientCredentials" in flows:
        return (
            {
                "client_id": {"description": "OAuth client id", "secret": False},
                "client_secret": secret,
            },
            {
                "type": "oauth2_client_credentials",
                "token_url": flows["clientCredentials"]["tokenUrl"],
                "client_id": "{client_id}",
                "client_secret": "{client_secret}",
            },
            [{"kind": "bearer"}],
        )
    return {"api_key": secret}, {"type": "bearer", "value": "{api_key}"}, [{"kind": "bearer"}]


class _Resolver:
    """Inlines local ``$ref``s; a reference to itself becomes an open schema."""

    def __init__(self, document: dict) -> None:
        self._document = document

    def inline(self, node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.inline(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/") or ref in seen:
                return {}
            return self.inline(self._target(ref), (*seen, ref))
        return {key: self.inline(value, seen) for key, value in node.items()}

    def _target(self, ref: str) -> Any:
        node: Any = self._document
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
        return node

"""The API's operations, each declared once in code: a route, and its part of the
OpenAPI document.

A view is registered with :meth:`ApiSpec.operation`, which names its method, path,
summary, the permission it needs, its body and query schemas and its answers. The
route is added to the blueprint with the permission enforced, and the OpenAPI document
at ``/api/v1/openapi.json`` is assembled from the same declarations, so no route can be
missing from it and no schema can drift from what is enforced. Schemas are plain JSON
Schema 2020-12 dicts registered by name with :meth:`ApiSpec.schema`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint

_PATH_PARAMETER = re.compile(r"{(\w+)}")


def ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    #: the permission (a user's role grants it; an app holds it as a scope); None: public
    permission: str | None
    description: str = ""
    #: the request body's schema, if the operation takes one
    body: dict | None = None
    #: OpenAPI parameter objects of the query (or ``$ref``s to shared ones)
    query: tuple[dict, ...] = ()
    #: the schema of each path parameter that is not any string (an id, a pattern)
    path_schemas: dict[str, dict] = field(default_factory=dict)
    #: status -> (description, schema of the JSON answer or None)
    answers: dict[int, tuple[str, dict | None]] = field(default_factory=dict)
    #: the media type of a successful answer (CSV exports, say), if not JSON
    media_type: str = "application/json"
    tag: str = ""

    def as_openapi(self) -> dict:
        document: dict[str, Any] = {"summary": self.summary, "operationId": self._operation_id()}
        if self.description:
            document["description"] = self.description
        if self.tag:
            document["tags"] = [self.tag]
        document["security"] = (
            []
            if self.permission is None
            else [{"gatewayToken": [self.permission]}, {"session": []}]
        )
        parameters = [self._path_parameter(name) for name in _PATH_PARAMETER.findall(self.path)]
        parameters += list(self.query)
        if parameters:
            document["parameters"] = parameters
        if self.body is not None:
            document["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self.body}},
            }
        document["responses"] = self._responses()
        return document

    def _operation_id(self) -> str:
        words = re.findall(r"[a-z0-9]+", self.path.lower())
        return "_".join([self.method.lower(), *words]) or self.method.lower()

    def _path_parameter(self, name: str) -> dict:
        schema = self.path_schemas.get(name, {"type": "string"})
        return {"name": name, "in": "path", "required": True, "schema": schema}

    def _responses(self) -> dict:
        responses: dict[str, Any] = {}
        for status, (description, schema) in sorted(self.answers.items()):
            answer: dict[str, Any] = {"description": description}
            if schema is not None:
                answer["content"] = {self.media_type: {"schema": schema}}
            responses[str(status)] = answer
        responses.setdefault("400", ref("responses", "InvalidQuery"))
        if self.permission is not None:
            responses.setdefault("401", ref("responses", "Unauthorized"))
            responses.setdefault("403", ref("responses", "Forbidden"))
            responses.setdefault("503", ref("responses", "Unavailable"))
        if _PATH_PARAMETER.search(self.path):
            responses.setdefault("404", ref("responses", "NotFound"))
        if self.body is not None:
            for status in ("413", "415", "422"):
                responses.setdefault(status, ref("responses", "Problem"))
        return responses


class ApiSpec:
    """The registry of operations and named schemas behind the document."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []
        self.schemas: dict[str, dict] = {}

    def schema(self, name: str, schema: dict) -> dict:
        """Registers a named schema; returns the ``$ref`` to use it by."""
        if name in self.schemas and self.schemas[name] != schema:
            raise ValueError(f"two different schemas named {name!r}")
        self.schemas[name] = schema
        return ref("schemas", name)

    def operation(
        self,
        blueprint: Blueprint,
        method: str,
        path: str,
        guard: Callable[[Callable, str | None], Callable],
        **declared: Any,
    ) -> Callable[[Callable], Callable]:
        """Adds the decorated view to ``blueprint`` at ``path`` (OpenAPI's ``{name}``
        style) behind ``guard`` (which enforces the permission), and to the document."""
        operation = Operation(method.upper(), path, **declared)

        def register(view: Callable) -> Callable:
            rule = _PATH_PARAMETER.sub(r"<\1>", path)
            blueprint.add_url_rule(
                rule, view.__name__, guard(view, operation.permission), methods=[operation.method]
            )
            self.operations.append(operation)
            return view

        return register

    def find(self, path: str, method: str) -> Operation | None:
        for operation in self.operations:
            if operation.path == path and operation.method == method.upper():
                return operation
        return None

    def paths(self) -> dict[str, dict]:
        paths: dict[str, dict] = {}
        for operation in self.operations:
            paths.setdefault(operation.path, {})[operation.method.lower()] = operation.as_openapi()
        return paths


#: The operations of ``/api/v1``.
api_spec = ApiSpec()

"""The OpenAPI document of the API, and validators for the bodies it describes.

The document is assembled from the operations and schemas declared in code
(``gateway.api.operations``) on a frame of shared parts (``gateway.api.components``: the
problem shape, common parameters and answers, how callers authenticate). Request bodies
are validated against the document's own schemas, so what is published is what is
enforced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from connectors.pointers import parse, render
from gateway.api import components
from gateway.api.operations import api_spec

_DOCUMENT_URI = "urn:gatehouse:api:v1"


@cache
def openapi_document() -> dict:
    """The whole document; built once, after every operation has been declared."""
    document = components.frame()
    document["components"]["schemas"].update(api_spec.schemas)
    document["paths"].update(api_spec.paths())
    return document


@dataclass(frozen=True)
class QueryParameter:
    name: str
    schema: dict
    validator: Draft202012Validator

    @property
    def is_integer(self) -> bool:
        return self.schema.get("type") == "integer"


def body_validator(schema_name: str) -> Draft202012Validator:
    """A validator of ``#/components/schemas/<schema_name>``."""
    return _validator(f"#/components/schemas/{schema_name}")


@cache
def query_parameters(path: str, method: str) -> tuple[QueryParameter, ...]:
    """The query parameters the document declares for an operation (none if undeclared)."""
    operation = openapi_document()["paths"].get(path, {}).get(method.lower(), {})
    declared = []
    for index, parameter in enumerate(operation.get("parameters", [])):
        pointer = "#" + render(("paths", path, method.lower(), "parameters", str(index)))
        if "$ref" in parameter:
            pointer = parameter["$ref"]
            parameter = _resolved(pointer)
        if parameter["in"] == "query":
            schema = _resolved(pointer + "/schema")
            declared.append(
                QueryParameter(parameter["name"], schema, _validator(pointer + "/schema"))
            )
    return tuple(declared)


@cache
def _validator(pointer: str) -> Draft202012Validator:
    """A validator of the schema at ``pointer`` (OpenAPI 3.1 is JSON Schema 2020-12), its
    references resolved within the document."""
    registry = Registry().with_resource(
        _DOCUMENT_URI, DRAFT202012.create_resource(openapi_document())
    )
    return Draft202012Validator(
        {"$ref": _DOCUMENT_URI + pointer},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _resolved(pointer: str) -> dict:
    """The object at a local pointer, following ``$ref`` until it is not one."""
    node = openapi_document()
    for key in parse(pointer.removeprefix("#")):
        node = node[int(key)] if isinstance(node, list) else node[key]
    return _resolved(node["$ref"]) if "$ref" in node else node

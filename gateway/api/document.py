"""The OpenAPI document of the API, and validators for the bodies it describes.

The document is written by hand in ``openapi.yaml``; what the code knows better (the
fideslang data uses a consent may name) is filled in when it is loaded. Request bodies
are validated against the document's own schemas, so what is published is what is
enforced.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from policies.taxonomy import known_data_uses

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
_DOCUMENT_URI = "urn:gatehouse:api:v1"


@cache
def openapi_document() -> dict:
    document = yaml.safe_load(OPENAPI_PATH.read_text())
    schemas = document["components"]["schemas"]
    schemas["ConsentEvent"]["properties"]["purpose"]["enum"] = sorted(known_data_uses())
    return document


@cache
def body_validator(schema_name: str) -> Draft202012Validator:
    """A validator of ``#/components/schemas/<schema_name>`` (OpenAPI 3.1 is JSON Schema
    2020-12), its references resolved within the document."""
    registry = Registry().with_resource(
        _DOCUMENT_URI, DRAFT202012.create_resource(openapi_document())
    )
    return Draft202012Validator(
        {"$ref": f"{_DOCUMENT_URI}#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )

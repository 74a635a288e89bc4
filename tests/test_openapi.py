"""The OpenAPI document is generated from the code: it is valid OpenAPI 3.1, it lists
every route of ``/api/v1`` with its methods (and nothing that is not a route), and it
says what an operation needing a permission answers to a caller without one."""

from __future__ import annotations

import re

import pytest
import requests
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from gateway.api.inputs import API_PREFIX

ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
#: Methods Flask answers for every rule by itself.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(gateway) -> dict:
    answer = requests.get(f"{gateway}/api/v1/openapi.json", timeout=10)
    assert answer.status_code == 200
    return answer.json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_an_invalid_document_would_be_refused(document):
    """The validation above is not vacuous: a broken operation is caught."""
    broken = {**document, "paths": {"/x": {"get": {"responses": "none"}}}}
    with pytest.raises(Exception, match="responses"):
        validate(broken, cls=OpenAPIV31SpecValidator)


def routed_operations(app) -> set[str]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        path = ROUTE_PARAMETER.sub(r"{\1}", rule.rule.removeprefix(API_PREFIX))
        operations |= {f"{method} {path}" for method in rule.methods - IMPLICIT_METHODS}
    return operations


def documented_operations(document: dict) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
    }


def test_every_route_is_documented_and_every_operation_routed(app, document):
    routed, documented = routed_operations(app), documented_operations(document)
    assert routed - documented == set(), "routes missing from the document"
    assert documented - routed == set(), "documented operations without a route"
    assert {"GET /openapi.json", "POST /consent/events", "GET /audit/exchanges"} <= routed


def test_every_operation_needing_a_permission_says_it_may_be_refused(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if not operation["security"]:
                continue
            assert {"401", "403"} <= operation["responses"].keys(), f"{method} {path}"
            scopes = operation["security"][0]["gatewayToken"]
            assert len(scopes) == 1, f"{method} {path} names one permission"
            flows = document["components"]["securitySchemes"]["gatewayToken"]["flows"]
            assert scopes[0] in flows["clientCredentials"]["scopes"], f"{method} {path}"


def test_an_operation_needing_a_permission_answers_401_without_credentials(gateway, document):
    """What the document says is what the routes do, for each documented GET."""
    for path, methods in document["paths"].items():
        if "get" not in methods or not methods["get"]["security"]:
            continue
        url = gateway + "/api/v1" + path.replace("{export_id}", "1")
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 401, path
        assert answer.headers["Content-Type"] == "application/problem+json"


def test_the_document_is_public(document):
    assert document["paths"]["/openapi.json"]["get"]["security"] == []

"""The catalog's operations fed by Schemathesis with a token that holds their permissions,
over a catalog with tools and grants in it: never a 500, every answer as documented."""

from __future__ import annotations

import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.test_catalog_api import tokens  # noqa: F401 (fixture)
from tests.test_schemathesis import MODES, REFUSALS, exercise

PREFIXES = ("/tools", "/grants", "/history")


def test_catalog_operations_answer_as_documented(gateway, tokens):  # noqa: F811
    schema = schemathesis.openapi.from_url(f"{gateway}/api/v1/openapi.json")
    schema.config.checks.negative_data_rejection.expected_statuses = REFUSALS
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if operation.path.startswith(PREFIXES)
    ]
    assert len(operations) == 10
    for operation in operations:
        token = tokens["admin-bot" if operation.method == "get" else "reviewer-bot"]
        if operation.path.endswith("/credentials"):
            token = tokens["admin-bot"]
        for mode in MODES:
            try:
                exercise(operation, mode, f"{gateway}/api/v1", token)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:
                exc.add_note(f"{operation.label} with {mode.value} data")
                raise

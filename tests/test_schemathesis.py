"""Every operation of /api/v1/openapi.json, fed by Schemathesis with data that fits its
schemas and data that does not: no answer is a 500, and every answer is one the document
describes (status, content type, body schema).

The calls are real HTTP to a live gateway on loopback, with the token of an auditing
client (consent and audit scopes). Operations that need another permission are only
checked to refuse it as documented here; each area fuzzes its own with a caller holding
the permission and data in place (test_catalog_fuzz, test_identity_users_fuzz,
test_tool_requests). Examples are bounded and derandomized, so a run takes seconds and a
failure is found again by the next run.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.test_api_inputs import (  # noqa: F401  (the fixtures)
    AUDITING_SCOPES,
    api_client,
    api_token,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


REFUSALS = ["400", "401", "403", "404", "405", "413", "415", "422"]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def test_every_operation_answers_as_documented(gateway, api_token):  # noqa: F811
    schema = schemathesis.openapi.from_url(f"{gateway}/api/v1/openapi.json")
    # Data breaking the schema must be refused with one of these (413: a body too large
    # is refused before it is read).
    schema.config.checks.negative_data_rejection.expected_statuses = REFUSALS
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {
        f"{method.upper()} {path}"
        for path, methods in schema.raw_schema["paths"].items()
        for method in methods
    }
    # Schemathesis leaves out the operation that serves the document it was given.
    assert {operation.label for operation in operations} == documented - {"GET /openapi.json"}
    for operation in operations:
        held = permission_of(schema.raw_schema, operation.label) in (None, *AUDITING_SCOPES)
        negatable = held and takes_input(schema.raw_schema, operation.label)
        for mode in MODES if negatable else (GenerationMode.POSITIVE,):
            try:
                exercise(operation, mode, f"{gateway}/api/v1", api_token, 40 if held else 3)
            except Unsatisfiable:
                # Nothing breaks the schema of an operation that takes only free-text path
                # parameters (DELETE /grants/{department}/{tool}): no negative data exists.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:
                exc.add_note(f"{operation.label} with {mode.value} data")
                raise


def permission_of(document: dict, label: str) -> str | None:
    """The permission an operation needs (None: public)."""
    method, path = label.split(" ", 1)
    security = document["paths"][path][method.lower()].get("security", [])
    return next((scopes[0] for entry in security for scopes in entry.values() if scopes), None)


def takes_input(document: dict, label: str) -> bool:
    """Whether the operation takes anything that could be sent wrong: a query or a body
    (``GET /me`` takes nothing; a path id is any string, refused by the view as 404)."""
    method, path = label.split(" ", 1)
    declared = document["paths"][path][method.lower()]
    parameters = declared.get("parameters", [])
    return "requestBody" in declared or any(p.get("in") != "path" for p in parameters)


def exercise(
    operation, mode: GenerationMode, base_url: str, token: str, examples: int = 40
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    exercise_with_headers(operation, mode, base_url, headers, examples)


def exercise_with_headers(
    operation, mode: GenerationMode, base_url: str, headers: dict, examples: int = 40
) -> None:
    """Calls the operation with generated data, as the caller these headers authenticate."""

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def call(case) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers=headers,
            checks=CHECKS,
            timeout=10,
        )

    call()

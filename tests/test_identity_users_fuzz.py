"""The users operations fed by Schemathesis as an admin app would call them (the shared
run in test_schemathesis.py has no ``users:admin`` token): no 500, every answer as the
document describes it, data breaking the schemas refused."""

from __future__ import annotations

import schemathesis

from tests.conftest import apply, get_token, register_test_app
from tests.test_schemathesis import MODES, REFUSALS, exercise, takes_input

USERS_OPERATIONS = {
    "GET /users",
    "POST /users",
    "GET /users/{user_id}",
    "PATCH /users/{user_id}",
    "GET /me",
}


def _admin_token(app, gateway) -> str:
    apply(app, {"departments": [{"slug": "growth", "name": "Growth"}]})
    credentials = register_test_app(app, "user-sync", ["users:admin", "catalog:read"])
    return get_token(gateway, credentials)


def test_the_users_operations_answer_as_documented(app, gateway):
    token = _admin_token(app, gateway)
    schema = schemathesis.openapi.from_url(f"{gateway}/api/v1/openapi.json")
    schema.config.checks.negative_data_rejection.expected_statuses = REFUSALS
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if operation.label in USERS_OPERATIONS
    ]
    assert {operation.label for operation in operations} == USERS_OPERATIONS
    for operation in operations:
        negatable = takes_input(schema.raw_schema, operation.label)
        for mode in MODES if negatable else MODES[:1]:
            try:
                exercise(operation, mode, f"{gateway}/api/v1", token)
            except Exception as exc:
                exc.add_note(f"{operation.label} with {mode.value} data")
                raise

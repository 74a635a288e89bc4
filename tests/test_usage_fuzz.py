"""The usage operations fed by Schemathesis with a token that holds ``usage:read``, over
a log with traffic in it: never a 500, every answer as documented."""

from __future__ import annotations

import random

import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.test_schemathesis import MODES, REFUSALS, exercise
from tests.test_usage import reader, seed  # noqa: F401 (fixture)


def test_usage_operations_answer_as_documented(app, gateway, reader):  # noqa: F811
    seed(app, random.Random(3), 0, 60, [])  # noqa: S311
    schema = schemathesis.openapi.from_url(f"{gateway}/api/v1/openapi.json")
    schema.config.checks.negative_data_rejection.expected_statuses = REFUSALS
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if operation.path.startswith("/usage")
    ]
    assert len(operations) == 2
    for operation in operations:
        for mode in MODES:
            try:
                exercise(operation, mode, f"{gateway}/api/v1", reader)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:
                exc.add_note(f"{operation.label} with {mode.value} data")
                raise

"""What a request carries: its validity against the operation, its data and its subjects.

``validate`` lists every schema violation with the JSON pointer of the bad field;
``classify`` finds the data categories present (by the spec's pointer map) and the
identifiers of the data subjects, each with the concrete pointer where it sits so a
later step can remove a subject from a batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.pointers import render, resolve
from connectors.spec import Operation


@dataclass(frozen=True)
class Violation:
    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


@dataclass(frozen=True)
class FoundData:
    pointer: str
    category: str


@dataclass(frozen=True)
class Subject:
    kind: str
    identifier: str
    #: A concrete body pointer (``/members/2/email_address``) or ``path:<param>``.
    location: str


@dataclass(frozen=True)
class Classification:
    data: tuple[FoundData, ...]
    subjects: tuple[Subject, ...]

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(found.category for found in self.data)


def validate_body(operation: Operation, body: Any) -> list[Violation]:
    return _violations(operation.body_validator, body)


def validate_query(operation: Operation, query: Mapping[str, str]) -> list[Violation]:
    return _violations(operation.query_validator, dict(query))


def _violations(validator, instance: Any) -> list[Violation]:
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    located = [violation for error in errors for violation in _located(error)]
    return list(dict.fromkeys(located))  # one "required" error per field lists them all


def _located(error) -> list[Violation]:
    """A violation at the field it is about: a missing or unexpected property's own pointer."""
    parent = tuple(str(part) for part in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [Violation(render((*parent, name)), "is required") for name in missing]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = error.schema.get("patternProperties", {})
        extra = [
            name
            for name in error.instance
            if name not in allowed and not any(re.search(p, name) for p in patterns)
        ]
        return [Violation(render((*parent, name)), "is not allowed here") for name in extra]
    return [Violation(render(parent), error.message)]


def classify(operation: Operation, body: Any, path_params: Mapping[str, str]) -> Classification:
    data = tuple(
        FoundData(pointer, category)
        for template, category in operation.data_categories.items()
        for pointer, value in resolve(body, template)
        if value not in (None, "", [], {})
    )
    subjects: list[Subject] = []
    for location in operation.subjects:
        if location.path_param:
            subjects.append(
                Subject(
                    location.kind, path_params[location.path_param], f"path:{location.path_param}"
                )
            )
            continue
        for pointer, value in resolve(body, location.pointer):
            if isinstance(value, str | int) and str(value).strip():
                subjects.append(Subject(location.kind, str(value), pointer))
    return Classification(data, tuple(subjects))

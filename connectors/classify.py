"""What a request carries: its validity against the operation, its data and its subjects.

``validate`` lists every schema violation with the JSON pointer of the bad field;
``classify`` finds the data categories present (by the spec's pointer map) and the
identifiers of the data subjects, each with the concrete pointer where it sits so a
later step can remove a subject from a batch.
"""

from __future__ import annotations

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
    return [
        Violation(render(tuple(str(part) for part in error.absolute_path)), error.message)
        for error in errors
    ]


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

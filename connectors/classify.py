"""What a request carries: its validity against the operation, its data and its subjects.

``validate`` lists every schema violation with the JSON pointer of the bad field;
``classify`` finds the data categories present (by the spec's pointer map) and the
identifiers of the data subjects, each with the concrete pointer where it sits so a
later step can remove a subject from a batch. E-mail addresses and phone numbers in the
open parts and free-text fields of a body count as subjects too, with their category
at their pointer, so every rule treats them as it treats declared ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.body_schema import open_values
from connectors.identifiers import CATEGORIES, identifiers_in
from connectors.pointers import WILDCARD, parse, render, resolve
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
    #: The batch item that holds this subject (``/members/2``); ``None`` outside a batch.
    item: str | None = None


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


def batch_item(template: str, pointer: str) -> str | None:
    """The array item a wildcard pointer went through last: ``/members/*/email`` reached
    as ``/members/2/email`` is item ``/members/2``."""
    template_parts, parts = parse(template), parse(pointer)
    if WILDCARD not in template_parts:
        return None
    last = len(template_parts) - 1 - template_parts[::-1].index(WILDCARD)
    return render(parts[: last + 1])


def classify(operation: Operation, body: Any, path_params: Mapping[str, str]) -> Classification:
    declared = _declared(operation, body, path_params)
    found = _found(operation, body, declared)
    return Classification(
        declared.data + tuple(FoundData(s.location, CATEGORIES[s.kind]) for s in found),
        declared.subjects + found,
    )


def with_people_named_in(
    classification: Classification, places: Iterable[tuple[str, Any]]
) -> Classification:
    """The classification, with the e-mail addresses and phone numbers in these values as
    subjects, each located as given (``query:email``, ``header:x-contact``) with its
    category there: values outside the body that no spec field describes."""
    found = {
        (kind, location, identifier): Subject(kind, identifier, location)
        for location, value in places
        for _, kind, identifier in identifiers_in(value, ())
    }
    if not found:
        return classification
    subjects = tuple(found.values())
    return Classification(
        classification.data + tuple(FoundData(s.location, CATEGORIES[s.kind]) for s in subjects),
        classification.subjects + subjects,
    )


def _found(operation: Operation, body: Any, declared: Classification) -> tuple[Subject, ...]:
    """The people named in the open parts and free-text fields of the body, where no
    declared subject field already names them."""
    if operation.body_validator is None:
        return ()
    taken = {(subject.kind, subject.location) for subject in declared.subjects}
    # A field the spec maps to this very category holds the record's own contact
    # (HubSpot's ``properties/phone``), not another person.
    taken |= {
        (kind, found.pointer)
        for found in declared.data
        for kind, category in CATEGORIES.items()
        if category == found.category or category.startswith(found.category + ".")
    }
    batches = [
        location.pointer
        for location in operation.subjects
        if location.pointer and WILDCARD in parse(location.pointer)
    ]
    found: dict[tuple[str, str, str], Subject] = {}
    for where, value in open_values(operation.body_validator.schema, body):
        for inside, kind, identifier in identifiers_in(value, where):
            pointer = render(inside)
            if (kind, pointer) not in taken:
                item = next(filter(None, (_item_under(t, inside) for t in batches)), None)
                found[kind, pointer, identifier] = Subject(kind, identifier, pointer, item)
    return tuple(found.values())


def _item_under(template: str, parts: tuple[str, ...]) -> str | None:
    """The batch item of ``template`` (``/members/*/...``) that ``parts`` lie in, if any."""
    prefix = parse(template)
    prefix = prefix[: len(prefix) - prefix[::-1].index(WILDCARD)]
    if len(parts) < len(prefix):
        return None
    if all(step in (WILDCARD, part) for step, part in zip(prefix, parts, strict=False)):
        return render(parts[: len(prefix)])
    return None


def _declared(operation: Operation, body: Any, path_params: Mapping[str, str]) -> Classification:
    """The data and people in the fields the spec names."""
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
                item = batch_item(location.pointer, pointer)
                subjects.append(Subject(location.kind, str(value), pointer, item))
    return Classification(data, tuple(subjects))

"""Loading connector specs from folders, checking them, and noticing when they change.

A spec must match the meta-schema (``spec.schema.json``), use only fideslang data
categories and data uses, and hold valid JSON Schemas for bodies; a body schema is
closed as it is loaded (``connectors.body_schema``). The shipped specs
live in ``connectors/specs``; operators may add folders of their own. The folders'
fingerprint (names, sizes, modification times) tells the gateway to reload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

import jsonschema
import yaml

from connectors.auth import AuthStrategy
from connectors.body_schema import closed
from connectors.spec import (
    ConnectorSpec,
    Operation,
    SubjectLocation,
    TokenLocation,
    template_params,
)
from connectors.vocabulary import data_categories, data_uses

SPECS_DIR = Path(__file__).parent / "specs"
META_SCHEMA_PATH = Path(__file__).parent / "spec.schema.json"
#: The connector of tools whose operations IT declares in the catalog itself.
GENERIC = "generic"
#: Methods whose operations are idempotent unless the spec says otherwise (RFC 9110 9.2.2):
#: a failed call of one may be sent again (``gateway.retries``).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class SpecError(ValueError):
    """A connector spec is missing, unreadable or wrong; the message says where."""


@cache
def _meta_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(META_SCHEMA_PATH.read_text()))


def parse_spec(document: object, source: str) -> ConnectorSpec:
    problems = _problems(document)
    if problems:
        raise SpecError(f"{source} is not a valid connector spec:\n" + "\n".join(problems))
    auth = AuthStrategy.from_spec(document["auth"])
    operations = sorted(
        (_operation(entry) for entry in document["operations"]),
        key=lambda operation: -operation.specificity,
    )
    return ConnectorSpec(
        vendor=document["vendor"],
        name=document["name"],
        base_url=document["base_url"],
        credential_fields=frozenset(document["credentials"]),
        auth=auth,
        app_token=tuple(TokenLocation(**entry) for entry in document.get("app_token", []))
        or (TokenLocation("bearer"),),
        operations=tuple(operations),
        docs=document.get("docs", ""),
    )


def _problems(document: object) -> list[str]:
    errors = sorted(_meta_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        return [f"  {_location(e.absolute_path)}: {e.message}" for e in errors]
    problems = []
    undeclared = AuthStrategy.from_spec(document["auth"]).credential_fields() - set(
        document["credentials"]
    )
    if undeclared:
        problems.append(f"  /auth: uses undeclared credentials {sorted(undeclared)}")
    seen: set[str] = set()
    for index, entry in enumerate(document["operations"]):
        problems += _operation_problems(entry, f"/operations/{index}", seen)
    return problems


def _operation_problems(entry: dict, where: str, seen: set[str]) -> list[str]:
    problems = []
    if entry["id"] in seen:
        problems.append(f"  {where}/id: {entry['id']!r} is declared twice")
    seen.add(entry["id"])
    if entry["default_purpose"] not in data_uses():
        problems.append(
            f"  {where}/default_purpose: {entry['default_purpose']!r} is not a fideslang data use"
        )
    for pointer, category in entry.get("data_categories", {}).items():
        if category not in data_categories():
            problems.append(
                f"  {where}/data_categories/{pointer}: {category!r} is not a fideslang "
                "data category"
            )
    params = template_params(entry["path"])
    for name, rule in entry.get("path_params", {}).items():
        if name not in params:
            problems.append(f"  {where}/path_params/{name}: not in the path {entry['path']}")
        try:
            re.compile(rule["pattern"])
        except re.error as exc:
            problems.append(f"  {where}/path_params/{name}: not a regular expression: {exc}")
    for position, subject in enumerate(entry.get("subjects", [])):
        if subject.get("path_param") and subject["path_param"] not in params:
            problems.append(
                f"  {where}/subjects/{position}/path_param: {subject['path_param']!r} is not "
                f"in the path {entry['path']}"
            )
    for part in ("body", "query"):
        try:
            jsonschema.Draft202012Validator.check_schema(entry.get(part, {}))
        except jsonschema.SchemaError as exc:
            problems.append(f"  {where}/{part}: not a valid JSON Schema: {exc.message}")
    return problems


def _operation(entry: dict) -> Operation:
    return Operation(
        id=entry["id"],
        method=entry["method"],
        path=entry["path"],
        default_purpose=entry["default_purpose"],
        summary=entry.get("summary", ""),
        data_categories=dict(entry.get("data_categories", {})),
        subjects=tuple(SubjectLocation(**subject) for subject in entry.get("subjects", [])),
        param_patterns={
            name: rule["pattern"] for name, rule in entry.get("path_params", {}).items()
        },
        idempotent=entry.get("idempotent", entry["method"] in IDEMPOTENT_METHODS),
        erases=entry.get("erases", False),
        unsubscribes=entry.get("unsubscribes", False),
        body_validator=_validator(closed(entry["body"]) if "body" in entry else None),
        query_validator=_validator(entry.get("query")),
    )


def _validator(schema: dict | None) -> jsonschema.Draft202012Validator | None:
    if schema is None:
        return None
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def spec_files(folders: Iterable[Path]) -> dict[str, Path]:
    """Each vendor's spec file; a later folder's file replaces an earlier one's."""
    return {path.stem: path for folder in folders for path in sorted(folder.glob("*.yaml"))}


def load_spec_file(path: Path) -> ConnectorSpec:
    """The spec in ``path``, parsed once for each version of the file: specs are
    immutable, and the catalog snapshot and the log redaction both read every one."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise SpecError(f"{path.name} cannot be read: {exc}") from exc
    return _parsed_spec_file(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _parsed_spec_file(path: Path, _mtime_ns: int, _size: int) -> ConnectorSpec:
    """``_mtime_ns`` and ``_size`` make a changed file a new entry (as :func:`fingerprint`)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path.name} cannot be read: {exc}") from exc
    spec = parse_spec(document, path.name)
    if spec.vendor != path.stem:
        raise SpecError(f"{path.name}: vendor {spec.vendor!r} must match the file name")
    return spec


def load_spec(vendor: str, folders: Iterable[Path] = (SPECS_DIR,)) -> ConnectorSpec:
    files = spec_files(folders)
    if vendor not in files:
        known = ", ".join(sorted([*files, GENERIC]))
        raise SpecError(f"no connector {vendor!r} (known: {known})")
    return load_spec_file(files[vendor])


def parse_inline_spec(inline: dict, name: str, base_url: str, source: str) -> ConnectorSpec:
    """The spec of a ``generic`` tool, declared in its catalog entry."""
    return parse_spec({"vendor": GENERIC, "name": name, "base_url": base_url, **inline}, source)


def fingerprint(folders: Iterable[Path]) -> tuple:
    """Changes whenever a spec file is added, removed or modified."""
    files = spec_files(folders)
    return tuple(
        (vendor, path.stat().st_mtime_ns, path.stat().st_size)
        for vendor, path in sorted(files.items())
    )


def _location(path) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(top)"

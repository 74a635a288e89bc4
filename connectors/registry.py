"""Loading connector specs from ``connectors/specs`` and checking them against the meta-schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from connectors.auth import AuthStrategy

SPECS_DIR = Path(__file__).parent / "specs"
META_SCHEMA_PATH = Path(__file__).parent / "spec.schema.json"


class SpecError(ValueError):
    """A connector spec is missing, unreadable or does not match the meta-schema."""


@dataclass(frozen=True)
class ConnectorSpec:
    vendor: str
    name: str
    base_url: str
    credential_fields: frozenset[str]
    auth: AuthStrategy

    @property
    def base_url_needs_account(self) -> bool:
        """True when the default base URL has account-specific parts like ``{dc}``."""
        return "{" in self.base_url


@cache
def _meta_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(META_SCHEMA_PATH.read_text()))


def parse_spec(document: dict, source: str) -> ConnectorSpec:
    errors = sorted(_meta_validator().iter_errors(document), key=lambda e: list(e.path))
    if errors:
        lines = [f"  {'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors]
        raise SpecError(f"{source} does not match the connector meta-schema:\n" + "\n".join(lines))
    auth = AuthStrategy.from_spec(document["auth"])
    undeclared = auth.credential_fields() - set(document["credentials"])
    if undeclared:
        raise SpecError(f"{source}: auth uses undeclared credentials {sorted(undeclared)}")
    return ConnectorSpec(
        vendor=document["vendor"],
        name=document["name"],
        base_url=document["base_url"],
        credential_fields=frozenset(document["credentials"]),
        auth=auth,
    )


def load_spec(vendor: str, specs_dir: Path = SPECS_DIR) -> ConnectorSpec:
    path = specs_dir / f"{vendor}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in specs_dir.glob("*.yaml")))
        raise SpecError(f"no connector {vendor!r} (known: {known})")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name} is not valid YAML: {exc}") from exc
    return parse_spec(document, path.name)

"""The policy file: lawful bases, modes, special categories, transfers, GPC and TCF settings.

Loaded once per change into an immutable :class:`Policy`; its version is the SHA-256 of
the file, recorded with every decision so an auditor knows which rules applied.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from policies.taxonomy import known_data_categories, known_data_uses, most_specific

POLICY_PATH = Path(__file__).with_name("policy.yaml")
LAWFUL_BASES = frozenset(
    {
        "consent",
        "contract",
        "legal_obligation",
        "legitimate_interests",
        "vital_interests",
        "public_task",
    }
)
MODES = frozenset({"strict", "redact"})


class PolicyError(ValueError):
    """The policy file is unreadable or wrong; the message says where."""


@dataclass(frozen=True)
class Policy:
    version: str
    lawful_bases: Mapping[str, str]
    default_mode: str
    special_categories: frozenset[str]
    eea: frozenset[str]
    adequacy: frozenset[str]
    dpf: frozenset[str]
    gpc_opt_out: frozenset[str]
    tcf_purposes: Mapping[str, frozenset[int]]

    def lawful_basis(self, purpose: str) -> str | None:
        return most_specific(self.lawful_bases, purpose)

    def tcf_purposes_for(self, purpose: str) -> frozenset[int]:
        return most_specific(self.tcf_purposes, purpose) or frozenset()


def load_policy(path: Path = POLICY_PATH) -> Policy:
    try:
        raw = path.read_bytes()
        document = yaml.safe_load(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path} cannot be read: {exc}") from exc
    return parse_policy(document, hashlib.sha256(raw).hexdigest(), str(path))


def parse_policy(document: object, version: str, source: str = "policy") -> Policy:
    if not isinstance(document, dict):
        raise PolicyError(f"{source}: not a mapping of settings")
    problems = _problems(document)
    if problems:
        raise PolicyError(f"{source} is not a valid policy:\n" + "\n".join(problems))
    transfers = document.get("transfers", {})
    return Policy(
        version=version,
        lawful_bases=MappingProxyType(dict(document["lawful_bases"])),
        default_mode=document.get("default_mode", "strict"),
        special_categories=frozenset(document.get("special_categories", [])),
        eea=frozenset(transfers.get("eea", [])),
        adequacy=frozenset(transfers.get("adequacy", [])),
        dpf=frozenset(transfers.get("dpf", [])),
        gpc_opt_out=frozenset(document.get("gpc_opt_out", [])),
        tcf_purposes=MappingProxyType(
            {use: frozenset(ids) for use, ids in document.get("tcf_purposes", {}).items()}
        ),
    )


def _problems(document: dict) -> list[str]:
    uses, categories = known_data_uses(), known_data_categories()
    problems = []
    bases = document.get("lawful_bases")
    if not isinstance(bases, dict) or not bases:
        return ["  lawful_bases: a mapping of data use to lawful basis is required"]
    for use, basis in bases.items():
        if use not in uses:
            problems.append(f"  lawful_bases/{use}: not a fideslang data use")
        if basis not in LAWFUL_BASES:
            problems.append(f"  lawful_bases/{use}: {basis!r} is not one of {sorted(LAWFUL_BASES)}")
    if document.get("default_mode", "strict") not in MODES:
        problems.append(f"  default_mode: must be one of {sorted(MODES)}")
    for category in document.get("special_categories", []):
        if category not in categories:
            problems.append(f"  special_categories: {category!r} is not a fideslang data category")
    for use in [*document.get("gpc_opt_out", []), *document.get("tcf_purposes", {})]:
        if use not in uses:
            problems.append(f"  {use!r} (gpc_opt_out or tcf_purposes) is not a fideslang data use")
    for name, countries in (document.get("transfers") or {}).items():
        wrong = [c for c in countries if not (isinstance(c, str) and re.fullmatch("[A-Z]{2}", c))]
        if name not in ("eea", "adequacy", "dpf") or wrong:
            problems.append(
                f"  transfers/{name}: lists eea, adequacy and dpf hold two-letter country "
                f"codes in quotes (YAML reads a bare NO as false): {wrong}"
            )
    for use, ids in document.get("tcf_purposes", {}).items():
        if not all(isinstance(i, int) and 1 <= i <= 11 for i in ids):
            problems.append(f"  tcf_purposes/{use}: TCF purposes are numbers 1 to 11")
    return problems

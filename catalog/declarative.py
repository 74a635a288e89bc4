"""The declarative catalog: ``gatehouse apply FILE`` and ``gatehouse export``.

A YAML document names departments, tools, grants and clients; applying it creates
or updates each so that the database matches, and applying the same document again
changes nothing. Nothing absent from the document is deleted. Vendor credentials are
given as ``from-env:NAME`` (read from the environment at apply time) and are stored
encrypted; export writes those references back, never a secret.

The file and the portal edit the same objects, so what apply owns is exact: **the keys an
entry gives, and only those**. A key the entry leaves out keeps whatever the portal or the
API set (a description, a review date, credentials stored by an admin); a key it gives
wins, and is set again at the next apply if someone changed it since. A retired tool stays
retired. Every change goes through the catalog's services (``catalog.tools``,
``catalog.grants``, ``catalog.credentials``), so it is in the history with the actor
``<login> (apply)`` and source ``apply``; an apply that changes nothing records nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import jsonschema
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.credentials import store_credentials
from catalog.errors import CatalogRefusal, Invalid
from catalog.grants import grant_state, put_grant
from catalog.history import record_change
from catalog.models import Department, Grant, GrantMode, Tool, ToolStatus, TransferBasis
from catalog.rate_limit_terms import GrantLimitsError, grant_limits, rate_list
from catalog.tools import create_tool, update_tool
from connectors.registry import (
    GENERIC,
    SPECS_DIR,
    SpecError,
    load_spec,
    parse_inline_spec,
)
from connectors.spec import ConnectorSpec
from gateway.addresses import literal_address, refusal_reason
from gateway.identity.actors import Actor
from gateway.oauth.apps import register_app
from gateway.oauth.clients import KNOWN_SCOPES
from gateway.oauth.models import Client
from gateway.vault import Vault
from policies.taxonomy import known_data_subjects

SCHEMA_PATH = Path(__file__).with_name("declarative.schema.json")
FROM_ENV = "from-env:"
#: The source of every change apply makes, in the history.
SOURCE = "apply"


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _same(value):
    return value


#: Key of a tool entry -> (the tool's field, how the file's value becomes the field's).
_TOOL_KEYS = {
    "name": ("name", _same),
    "connector": ("connector", _same),
    "category": ("category", _same),
    "website": ("website", _same),
    "description": ("description", _same),
    "base_url": ("base_url", _same),
    "allow_private_network": ("allow_private_network", _same),
    "status": ("status", ToolStatus),
    "country": ("country", _same),
    "transfer_basis": ("transfer_basis", TransferBasis),
    "review_due": ("review_due", _day),
    "spec": ("inline_spec", _same),
    "iab_vendor_id": ("iab_vendor_id", _same),
    "retention": ("retention", _same),
    "seats": ("seats", _same),
    "contract_volume": ("contract_volume", _same),
    "rate_limits": ("rate_limits", rate_list),
    "vendor_quota": ("vendor_quota", rate_list),
    "limits_on_store_outage": ("limits_on_store_outage", _same),
}


class CatalogError(ValueError):
    """The document cannot be applied; the message says where and why."""


@dataclass
class NewClient:
    name: str
    client_id: str
    client_secret: str


@dataclass
class ApplyReport:
    changes: list[str] = field(default_factory=list)
    new_clients: list[NewClient] = field(default_factory=list)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    """The file's schema, with the scopes an app may hold as the code knows them."""
    schema = json.loads(SCHEMA_PATH.read_text())
    client = schema["properties"]["clients"]["items"]["properties"]
    client["scopes"]["items"] = {"enum": sorted(KNOWN_SCOPES)}
    return jsonschema.Draft202012Validator(schema)


def validate_document(document: object) -> dict:
    """The document with dates as ISO strings, or :class:`CatalogError` listing each problem."""
    document = _dates_as_text(document if document is not None else {})
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_pointer(e.absolute_path)}: {e.message}" for e in errors]
        raise CatalogError("the catalog file is not valid:\n" + "\n".join(lines))
    return document


def apply_document(
    session: Session,
    document: object,
    vault: Vault,
    environ: Mapping[str, str] = os.environ,
    spec_folders: tuple[Path, ...] = (SPECS_DIR,),
    actor: Actor | None = None,
) -> ApplyReport:
    document = validate_document(document)
    actor = actor or Actor.for_operator(SOURCE)
    applier = _Applier(session, vault, environ, spec_folders, actor)
    for entry in document.get("departments", []):
        applier.department(entry["slug"], entry.get("name"))
    for position, entry in enumerate(document.get("tools", [])):
        applier.tool(entry, f"/tools/{position}")
    for position, entry in enumerate(document.get("grants", [])):
        applier.grant(entry, f"/grants/{position}")
    for position, entry in enumerate(document.get("clients", [])):
        applier.client(entry, f"/clients/{position}")
    session.flush()
    return applier.report


def export_document(session: Session) -> dict:
    departments = session.scalars(select(Department).order_by(Department.slug)).all()
    tools = session.scalars(select(Tool).order_by(Tool.slug)).all()
    grants = session.scalars(select(Grant).order_by(Grant.id)).all()
    clients = session.scalars(select(Client).order_by(Client.name)).all()
    return {
        "departments": [{"slug": d.slug, "name": d.name} for d in departments],
        "tools": [_export_tool(tool) for tool in tools],
        "grants": [_export_grant(grant) for grant in grants],
        "clients": [
            {"name": c.name, "department": c.department.slug, "scopes": c.scopes.split()}
            for c in clients
        ],
    }


def _export_tool(tool: Tool) -> dict:
    entry = {
        "slug": tool.slug,
        "name": tool.name,
        "connector": tool.connector,
        "category": tool.category,
        "website": tool.website,
        "description": tool.description,
        "base_url": tool.base_url,
        "allow_private_network": tool.allow_private_network or None,
        "status": tool.status.value,
        "country": tool.country,
        "transfer_basis": tool.transfer_basis.value if tool.transfer_basis else None,
        "review_due": tool.review_due.isoformat() if tool.review_due else None,
        "iab_vendor_id": tool.iab_vendor_id,
        "data_subjects": list(tool.data_subjects) or None,
        "retention": tool.retention,
        "seats": tool.seats,
        "contract_volume": tool.contract_volume,
        "credentials": dict(tool.credential_sources) or None,
        "spec": tool.inline_spec,
        "rate_limits": list(tool.rate_limits) or None,
        "vendor_quota": list(tool.vendor_quota) or None,
        "limits_on_store_outage": tool.limits_on_store_outage,
    }
    return {key: value for key, value in entry.items() if value is not None}


def _export_grant(grant: Grant) -> dict:
    entry = {
        "department": grant.department.slug,
        "tool": grant.tool.slug,
        "purposes": list(grant.purposes),
        "data_categories": list(grant.data_categories),
        "mode": grant.mode.value,
        "expires": grant.expires.isoformat() if grant.expires else None,
        "limits": dict(grant.limits) or None,
    }
    return {key: value for key, value in entry.items() if value is not None}


class _Applier:
    def __init__(
        self,
        session: Session,
        vault: Vault,
        environ: Mapping[str, str],
        spec_folders: tuple[Path, ...],
        actor: Actor,
    ) -> None:
        self.actor = actor
        self.session = session
        self.vault = vault
        self.environ = environ
        self.spec_folders = spec_folders
        self.report = ApplyReport()

    def department(self, slug: str, name: str | None) -> Department:
        department = self.session.scalar(select(Department).where(Department.slug == slug))
        if department is None:
            department = Department(slug=slug, name=name or slug)
            self.session.add(department)
            self._record_department(department, "created", None)
            self.report.changes.append(f"created department {slug}")
        elif name and department.name != name:
            before = {"name": department.name}
            department.name = name
            self._record_department(department, "updated", before)
            self.report.changes.append(f"updated department {slug}: name")
        return department

    def _record_department(self, department: Department, action: str, before: dict | None):
        record_change(
            self.session,
            self.actor,
            SOURCE,
            "department",
            department.slug,
            department.name,
            action,
            before,
            {"name": department.name},
        )

    def tool(self, entry: dict, where: str) -> None:
        tool = self.session.scalar(select(Tool).where(Tool.slug == entry["slug"]))
        spec = self._spec(entry, where)
        if spec.base_url_needs_account and not entry.get("base_url", tool and tool.base_url):
            raise CatalogError(
                f"{where}/base_url: connector {spec.vendor!r} has no fixed base URL "
                f"({spec.base_url}); give the account's base_url"
            )
        self._check_address(entry, tool, where)
        wanted = self._tool_fields(entry, where)
        created = tool is None
        if created:
            tool = create_tool(self.session, self.actor, SOURCE, entry["slug"], **wanted)
            changed = []
        else:
            changed = self._update_tool(tool, wanted, where)
        if "credentials" in entry and self._credentials(tool, entry["credentials"], spec, where):
            changed.append("credentials")
        self._note("tool", entry["slug"], created, changed)

    def _tool_fields(self, entry: dict, where: str) -> dict:
        """The fields of the tool the entry gives (apply owns those, and only those)."""
        given = {}
        for key, (column, convert) in _TOOL_KEYS.items():
            if key in entry:
                try:
                    given[column] = convert(entry[key])
                except ValueError as exc:
                    raise CatalogError(f"{where}/{key}: {exc}") from exc
        if "data_subjects" in entry:
            given["data_subjects"] = sorted(self._data_subjects(entry, where))
        return given

    def _update_tool(self, tool: Tool, wanted: dict, where: str) -> list[str]:
        changed = [name for name, value in wanted.items() if getattr(tool, name) != value]
        if tool.status is ToolStatus.RETIRED and wanted.get("status", tool.status) != tool.status:
            raise CatalogError(f"{where}/status: tool {tool.slug!r} is retired, which is final")
        update_tool(
            self.session, self.actor, SOURCE, tool, **{name: wanted[name] for name in changed}
        )
        return changed

    def grant(self, entry: dict, where: str) -> None:
        tool = self.session.scalar(select(Tool).where(Tool.slug == entry["tool"]))
        if tool is None:
            raise CatalogError(f"{where}/tool: no tool {entry['tool']!r} in the file or catalog")
        department = self.department(entry["department"], None)
        grant = self.session.scalar(
            select(Grant).where(Grant.department == department, Grant.tool == tool)
        )
        terms = {
            "purposes": entry.get("purposes", grant.purposes if grant else []),
            "data_categories": entry.get("data_categories", grant.data_categories if grant else []),
            "mode": GrantMode(entry["mode"]) if "mode" in entry else _current_mode(grant),
            "expires": date.fromisoformat(entry["expires"])
            if "expires" in entry
            else (grant.expires if grant else None),
            "limits": self._grant_limits(entry, grant, where),
        }
        before = grant_state(grant) if grant is not None else None
        after = grant_state(put_grant(self.session, self.actor, SOURCE, department, tool, **terms))
        changed = [name for name in after if before is not None and before[name] != after[name]]
        self._note("grant", f"{department.slug} -> {tool.slug}", before is None, changed)

    @staticmethod
    def _grant_limits(entry: dict, grant: Grant | None, where: str) -> dict:
        if "limits" not in entry:
            return grant.limits if grant else {}
        try:
            return grant_limits(entry["limits"])
        except GrantLimitsError as exc:
            raise CatalogError(f"{where}/limits{exc.pointer}: {exc}") from exc

    def client(self, entry: dict, where: str) -> None:
        department = self.department(entry["department"], None)
        scopes = sorted(entry.get("scopes", ["proxy"]))
        client = self.session.scalar(select(Client).where(Client.name == entry["name"]))
        if client is None:
            try:
                client, secret = register_app(
                    self.session,
                    self.actor,
                    SOURCE,
                    entry["name"],
                    department.slug,
                    scopes=scopes,
                )
            except CatalogRefusal as exc:
                problems = [f"{where}{e['pointer']}: {e['message']}" for e in exc.errors]
                raise CatalogError("; ".join(problems or [f"{where}: {exc.message}"])) from exc
            self.session.flush()
            self.report.new_clients.append(NewClient(client.name, client.client_id, secret))
            self._note("client", entry["name"], True, [])
            return
        changed = _assign(client, {"department": department, "scopes": " ".join(scopes)})
        self._note("client", entry["name"], False, changed)

    @staticmethod
    def _check_address(entry: dict, tool: Tool | None, where: str) -> None:
        """A base URL that is an address the tool may not reach is refused now, not later.

        A name is checked when the gateway connects, as it may resolve differently then.
        """
        address = literal_address(entry.get("base_url", ""))
        allowed = entry.get(
            "allow_private_network", tool is not None and tool.allow_private_network
        )
        reason = refusal_reason(address, allowed) if address is not None else None
        if reason is not None:
            hint = "" if allowed else "; if the tool really lives there, set allow_private_network"
            raise CatalogError(
                f"{where}/base_url: the gateway does not connect to {address} "
                f"({reason} address){hint}"
            )

    @staticmethod
    def _data_subjects(entry: dict, where: str) -> list[str]:
        given = entry.get("data_subjects", [])
        unknown = sorted(set(given) - known_data_subjects())
        if unknown:
            raise CatalogError(
                f"{where}/data_subjects: {unknown} are not fideslang data subjects "
                f"(known: {', '.join(sorted(known_data_subjects()))})"
            )
        return given

    def _spec(self, entry: dict, where: str) -> ConnectorSpec:
        generic = entry["connector"] == GENERIC
        if generic != ("spec" in entry):
            raise CatalogError(
                f"{where}/spec: give a spec exactly when the connector is {GENERIC!r}"
            )
        try:
            if generic:
                if "base_url" not in entry:
                    raise SpecError("a generic tool needs its base_url")
                return parse_inline_spec(entry["spec"], entry["name"], entry["base_url"], "spec")
            return load_spec(entry["connector"], self.spec_folders)
        except SpecError as exc:
            raise CatalogError(f"{where}/{'spec' if generic else 'connector'}: {exc}") from exc

    def _credentials(self, tool: Tool, given: dict, spec: ConnectorSpec, where: str) -> bool:
        unknown = set(given) - spec.credential_fields
        if unknown:
            raise CatalogError(
                f"{where}/credentials: {sorted(unknown)} not used by connector {spec.vendor!r} "
                f"(it takes {sorted(spec.credential_fields)})"
            )
        values = {
            name: self._resolve(value, f"{where}/credentials/{name}")
            for name, value in given.items()
        }
        sources = {name: value for name, value in given.items() if value.startswith(FROM_ENV)}
        try:
            changed = store_credentials(
                self.session, self.actor, SOURCE, tool, spec, values, self.vault, sources
            )
        except Invalid as exc:
            raise CatalogError(f"{where}/credentials: {exc.message}") from exc
        return bool(changed)

    def _resolve(self, value: str, where: str) -> str:
        if not value.startswith(FROM_ENV):
            return value
        name = value.removeprefix(FROM_ENV)
        if not self.environ.get(name):
            raise CatalogError(f"{where}: environment variable {name} is not set")
        return self.environ[name]

    def _note(self, kind: str, name: str, created: bool, changed: list[str]) -> None:
        if created:
            self.report.changes.append(f"created {kind} {name}")
        elif changed:
            self.report.changes.append(f"updated {kind} {name}: {', '.join(changed)}")


def _assign(obj: object, wanted: dict) -> list[str]:
    """Set the attributes that differ; returns their names."""
    changed = [name for name, value in wanted.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, wanted[name])
    return changed


def _current_mode(grant: Grant | None) -> GrantMode:
    return grant.mode if grant is not None else GrantMode.STRICT


def _dates_as_text(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    return value


def _pointer(path) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(top)"

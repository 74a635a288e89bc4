"""Vendor credentials of a tool: stored and rotated, never read back.

A tool's connector names the secret fields it needs (``credentials:`` in its spec); the
values are encrypted with the vault and only the proxy's snapshot ever decrypts them to
call the vendor. Whoever stores them (an admin in the portal or the API, ``gatehouse
apply``) goes through :func:`store_credentials`, which checks the names against the
connector, records in the history the names of the fields that changed (never a value
nor a hash of one) and makes the tool callable at once (the catalog snapshot moves).
What a person may see of a stored value is :func:`masked`.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from catalog.errors import Invalid
from catalog.history import record_change
from catalog.models import Tool
from connectors.spec import ConnectorSpec
from gateway.identity.actors import Actor
from gateway.vault import Vault

PERMISSION = "credentials:write"
MASK = "••••"
#: A value at least this long may show its last 4 characters; a shorter one shows none.
LONG_ENOUGH_TO_HINT = 16
MAX_VALUE_LENGTH = 4000


def missing_credentials(tool: Tool, spec: ConnectorSpec | None) -> list[str]:
    """The credential fields the tool's connector needs while none are stored (storing
    takes them all at once): while there are any, the tool is *waiting for credentials*
    and its calls cannot be forwarded."""
    if spec is None or tool.credentials_encrypted:
        return []
    return sorted(spec.credential_fields)


def needs_credentials(tool: Tool, spec: ConnectorSpec | None) -> bool:
    """Whether the tool waits for credentials: its connector needs some, none are stored."""
    return bool(missing_credentials(tool, spec))


def store_credentials(
    session: Session,
    actor: Actor,
    source: str,
    tool: Tool,
    spec: ConnectorSpec,
    values: Mapping[str, str],
    vault: Vault,
    sources: Mapping[str, str] | None = None,
) -> list[str]:
    """Stores ``values`` over the tool's current credentials (a rotation may give one field
    of several); returns the names of the fields whose value or source changed.

    ``sources`` says where a value came from (``from-env:NAME``), for ``gatehouse
    export``; a value given without one no longer has a source."""
    actor.require(PERMISSION)
    _check(values, spec)
    current = _current(tool, vault)
    merged = {**current, **values}
    missing = sorted(spec.credential_fields - set(merged))
    if missing:
        raise Invalid(
            f"connector {spec.vendor!r} needs {', '.join(missing)} as well",
            [{"pointer": f"/{name}", "message": "is required"} for name in missing],
        )
    old_sources = tool.credential_sources or {}
    new_sources = {name: origin for name, origin in old_sources.items() if name not in values}
    new_sources.update(sources or {})
    changed = sorted(
        name
        for name in merged
        if current.get(name) != merged[name] or old_sources.get(name) != new_sources.get(name)
    )
    if not changed:
        return []
    action = "credentials_rotated" if current else "credentials_stored"
    tool.credentials_encrypted = vault.encrypt_json(merged)
    tool.credential_sources = new_sources
    record_change(
        session, actor, source, "tool", tool.slug, tool.name, action, None, {"fields": changed}
    )
    return changed


def masked(tool: Tool, spec: ConnectorSpec | None, vault: Vault) -> dict[str, str | None]:
    """Each credential field of the connector: ``None`` if not stored, else a mask showing
    at most the last 4 characters of a long value."""
    current = _current(tool, vault)
    fields = sorted(spec.credential_fields) if spec is not None else sorted(current)
    return {name: _mask(current[name]) if name in current else None for name in fields}


def _mask(value: str) -> str:
    return MASK + value[-4:] if len(value) >= LONG_ENOUGH_TO_HINT else MASK


def _check(values: Mapping[str, str], spec: ConnectorSpec) -> None:
    errors = []
    for name, value in values.items():
        if name not in spec.credential_fields:
            takes = ", ".join(sorted(spec.credential_fields)) or "none"
            errors.append({"pointer": f"/{name}", "message": f"not a field (it takes {takes})"})
        elif not isinstance(value, str) or not value.strip():
            errors.append({"pointer": f"/{name}", "message": "must be a non-empty text"})
        elif len(value) > MAX_VALUE_LENGTH:
            errors.append(
                {"pointer": f"/{name}", "message": f"must be at most {MAX_VALUE_LENGTH} characters"}
            )
    if not values:
        errors.append({"pointer": "", "message": "give at least one credential field"})
    if errors:
        raise Invalid(f"these are not credentials connector {spec.vendor!r} takes", errors)


def _current(tool: Tool, vault: Vault) -> dict[str, str]:
    return vault.decrypt_json(tool.credentials_encrypted) if tool.credentials_encrypted else {}

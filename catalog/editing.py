"""What a reviewer changes on a tool and its grants, checked before it reaches the catalog.

The portal's forms and the API's PATCH and PUT send text; here it becomes the tool's
fields (dates, enums, fideslang keys), each problem said next to the field it is about,
then goes through ``catalog.tools`` and ``catalog.grants``, which record the history.
A tool's status is not edited here but by ``catalog.lifecycle``, its credentials by
``catalog.credentials``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from catalog.errors import Invalid
from catalog.grants import put_grant, remove_grant
from catalog.models import Department, Grant, GrantMode, Tool, TransferBasis
from catalog.rate_limit_terms import checked_grant_limits, rate_list, store_outage
from catalog.tools import update_tool
from gateway.addresses import literal_address, refusal_reason
from gateway.identity.actors import Actor
from policies.taxonomy import known_data_categories, known_data_subjects, known_data_uses

PERMISSION = "reviews:write"
_URL = re.compile(r"^https?://[^\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def _text(limit: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a non-empty text")
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value.strip()

    return check


def _matching(pattern: re.Pattern, description: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not pattern.fullmatch(value) or len(value) > 500:
            raise ValueError(f"must be {description}")
        return value

    return check


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("must be a date, YYYY-MM-DD") from None


def _transfer_basis(value: Any) -> TransferBasis:
    try:
        return TransferBasis(value)
    except ValueError:
        raise ValueError(f"must be one of {', '.join(b.value for b in TransferBasis)}") from None


def _data_subjects(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of fideslang data subjects")
    unknown = sorted(set(value) - known_data_subjects())
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not fideslang data subjects")
    return sorted(set(value))


def _vendor_id(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise ValueError("must be a whole number from 1 to 65535")
    return value


def _count(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**31 - 1:
        raise ValueError("must be a whole number, 0 or more")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


#: The fields a reviewer may edit -> how a given value is checked and converted.
EDITABLE: dict[str, Callable[[Any], Any]] = {
    "name": _text(200),
    "category": _matching(_CATEGORY, "a lower-case word like email, crm or analytics"),
    "website": _matching(_URL, "an http or https URL"),
    "description": _text(5000),
    "base_url": _matching(_URL, "an http or https URL"),
    "allow_private_network": _flag,
    "country": _matching(_COUNTRY, "a two-letter country code like US or DE"),
    "transfer_basis": _transfer_basis,
    "review_due": _day,
    "retention": _text(200),
    "iab_vendor_id": _vendor_id,
    "data_subjects": _data_subjects,
    "seats": _count,
    "contract_volume": _count,
    "rate_limits": rate_list,
    "vendor_quota": rate_list,
    "limits_on_store_outage": store_outage,
}
#: Lists of limits: emptied (given as None or "") they hold no limit.
LIMIT_LISTS = frozenset({"rate_limits", "vendor_quota"})
#: Fields that may be emptied (given as None); the others always hold a value.
CLEARABLE = frozenset(EDITABLE) - {
    "name",
    "allow_private_network",
    "data_subjects",
    "limits_on_store_outage",
    *LIMIT_LISTS,
}


def edit_tool(
    session: Session, actor: Actor, source: str, tool: Tool, changes: Mapping[str, Any]
) -> bool:
    """Sets the given fields of the tool; returns whether anything changed."""
    actor.require(PERMISSION)
    fields, errors = {}, []
    for name, value in changes.items():
        try:
            fields[name] = _checked(name, value)
        except ValueError as exc:
            errors.append({"pointer": f"/{name}", "message": str(exc)})
    if errors:
        raise Invalid("the tool was not changed", errors)
    _check_address(
        fields.get("base_url", tool.base_url),
        fields.get("allow_private_network", tool.allow_private_network),
    )
    return update_tool(session, actor, source, tool, **fields)


def _checked(name: str, value: Any) -> Any:
    if name not in EDITABLE:
        raise ValueError(f"cannot be edited (editable: {', '.join(EDITABLE)})")
    if (value is None or value == "") and name in LIMIT_LISTS:
        return []
    if value is None or value == "":
        if name not in CLEARABLE:
            raise ValueError("is required")
        return None
    return EDITABLE[name](value)


def _check_address(base_url: str | None, allowed: bool) -> None:
    address = literal_address(base_url or "")
    reason = refusal_reason(address, allowed) if address is not None else None
    if reason is not None:
        message = f"the gateway does not connect to {address} ({reason} address)"
        raise Invalid(message, [{"pointer": "/base_url", "message": message}])


def set_grant(
    session: Session,
    actor: Actor,
    source: str,
    department: Department,
    tool: Tool,
    terms: Mapping[str, Any],
) -> Grant:
    """The department's grant for the tool, created or replaced by ``terms`` (purposes,
    data categories, mode ``strict`` or ``redact``, expiry date or None, limits)."""
    actor.require(PERMISSION)
    errors = _unknown("purposes", terms.get("purposes", []), known_data_uses())
    errors += _unknown("data_categories", terms.get("data_categories", []), known_data_categories())
    if not terms.get("purposes"):
        errors.append({"pointer": "/purposes", "message": "name at least one purpose"})
    modes = [mode.value for mode in GrantMode]
    if terms.get("mode", "strict") not in modes:
        errors.append({"pointer": "/mode", "message": f"must be one of {', '.join(modes)}"})
    try:
        expires = _day(terms["expires"]) if terms.get("expires") else None
    except ValueError as exc:
        errors.append({"pointer": "/expires", "message": str(exc)})
    limits = checked_grant_limits(terms.get("limits"), "/limits", errors)
    if errors:
        raise Invalid("the grant was not changed", errors)
    return put_grant(
        session,
        actor,
        source,
        department,
        tool,
        list(terms["purposes"]),
        list(terms.get("data_categories", [])),
        GrantMode(terms.get("mode", "strict")),
        expires,
        limits,
    )


def delete_grant(session: Session, actor: Actor, source: str, grant: Grant) -> None:
    actor.require(PERMISSION)
    remove_grant(session, actor, source, grant)


def _unknown(name: str, keys: list[str], known: frozenset[str]) -> list[dict]:
    return [
        {"pointer": f"/{name}/{index}", "message": f"{key!r} is not a fideslang key"}
        for index, key in enumerate(keys)
        if key not in known
    ]

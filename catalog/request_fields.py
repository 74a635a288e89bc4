"""Reading what a marketer typed into a tool request, every problem listed by field.

The portal's form and the API's JSON body both arrive here as plain values (strings,
lists of strings); a request is accepted only when every field is right, and a refusal
names each wrong field with a JSON pointer (``/vendor_name``) so the form can show the
message next to it and the API can list it in its problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Invalid
from catalog.models import Department, Urgency
from gateway.db import utcnow
from gateway.identity.actors import Actor
from policies.taxonomy import known_data_categories, known_data_uses

CATEGORIES = ("email", "crm", "analytics", "ads", "social", "cdp", "other")
#: Longest texts accepted (the columns' sizes, and a justification one can read).
MAX_NAME, MAX_WEBSITE, MAX_VOLUME, MAX_JUSTIFICATION = 200, 500, 200, 5000


@dataclass(frozen=True)
class RequestFields:
    vendor_name: str
    website: str
    category: str
    purposes: list[str]
    data_categories: list[str]
    departments: list[Department]
    justification: str
    expected_volume: str | None
    urgency: Urgency
    desired_date: date | None
    connector: str | None


class _Problems:
    """Collects field problems; raises them all at once."""

    def __init__(self) -> None:
        self.errors: list[dict] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"pointer": f"/{field}", "message": message})

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid("the request has problems; each is listed with its field", self.errors)


def read_request_fields(
    session: Session, actor: Actor, given: Mapping[str, Any], connectors: Iterable[str]
) -> RequestFields:
    """The request's fields, checked; :class:`Invalid` lists every wrong one."""
    problems = _Problems()
    fields = RequestFields(
        vendor_name=_text(given, "vendor_name", MAX_NAME, problems, required=True),
        website=_website(given, problems),
        category=_choice(given, "category", CATEGORIES, problems) or "other",
        purposes=_keys(given, "purposes", known_data_uses(), "fideslang data use", problems),
        data_categories=_keys(
            given, "data_categories", known_data_categories(), "fideslang data category", problems
        ),
        departments=_departments(session, actor, given, problems),
        justification=_text(given, "justification", MAX_JUSTIFICATION, problems, required=True),
        expected_volume=_text(given, "expected_volume", MAX_VOLUME, problems) or None,
        urgency=Urgency(
            _choice(given, "urgency", tuple(Urgency), problems, default="normal") or "normal"
        ),
        desired_date=_desired_date(given, problems),
        connector=_connector(given, set(connectors), problems),
    )
    problems.raise_if_any()
    return fields


def _text(given, field: str, limit: int, problems: _Problems, required: bool = False) -> str:
    value = given.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(field, "is required")
        return ""
    if not isinstance(value, str):
        problems.add(field, "must be text")
        return ""
    value = value.strip()
    if len(value) > limit:
        problems.add(field, f"must be at most {limit} characters")
    return value


def _website(given, problems: _Problems) -> str:
    website = _text(given, "website", MAX_WEBSITE, problems, required=True)
    if not website:
        return ""
    parts = urlsplit(website)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in website:
        problems.add("website", "must be a web address starting with https:// or http://")
    return website


def _choice(given, field: str, choices, problems: _Problems, default: str | None = None):
    value = given.get(field) or default
    if value is None:
        problems.add(field, f"choose one of {', '.join(choices)}")
        return None
    if value not in choices:
        problems.add(field, f"must be one of {', '.join(choices)}")
        return None
    return value


def _strings(given, field: str, problems: _Problems) -> list[str] | None:
    value = given.get(field) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(field, "must be a list of names")
        return None
    return list(dict.fromkeys(item.strip() for item in value if item.strip()))


def _keys(given, field: str, known: frozenset[str], what: str, problems: _Problems) -> list[str]:
    keys = _strings(given, field, problems)
    if keys is None:
        return []
    if not keys:
        problems.add(field, f"choose at least one {what}")
    unknown = [key for key in keys if key not in known]
    if unknown:
        problems.add(field, f"not a known {what}: {', '.join(unknown[:5])}")
    return keys


def _departments(session: Session, actor: Actor, given, problems: _Problems) -> list[Department]:
    slugs = _strings(given, "departments", problems)
    if slugs is None:
        return []
    if not slugs:
        problems.add("departments", "choose at least one department")
        return []
    found = {
        department.slug: department
        for department in session.scalars(select(Department).where(Department.slug.in_(slugs)))
    }
    # A department the actor does not act for is reported as unknown: it is not theirs to name.
    refused = [slug for slug in slugs if slug not in found or not actor.sees(slug)]
    if refused:
        problems.add("departments", f"not a department you act for: {', '.join(refused[:5])}")
    return [found[slug] for slug in slugs if slug in found and actor.sees(slug)]


def _desired_date(given, problems: _Problems) -> date | None:
    value = given.get("desired_date")
    if value in (None, ""):
        return None
    try:
        desired = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        desired = None
    if desired is None:
        problems.add("desired_date", "must be a date such as 2027-01-31")
    elif desired < utcnow().date():
        problems.add("desired_date", "must be today or later")
    return desired


def _connector(given, connectors: set[str], problems: _Problems) -> str | None:
    value = given.get("connector")
    if value in (None, ""):
        return None
    if value not in connectors:
        problems.add(
            "connector", f"must be one of the shipped connectors: {', '.join(sorted(connectors))}"
        )
        return None
    return value

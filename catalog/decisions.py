"""IT decides a tool request: approve (with or without conditions), ask, or reject.

Approving puts the tool in the catalog, or updates the one already there for the vendor,
as ``approved`` with the checklist's processing country and transfer basis, and grants
the departments what the reviewer allowed; an app of those departments may call it at
once (unless the vendor's credentials are not stored yet: the tool then waits for an
admin, who is told). Every outcome carries a comment the requester reads, and a decided
request stays decided.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.checklist import is_complete, missing_answers
from catalog.conversation import add_message, ask
from catalog.credentials import missing_credentials
from catalog.errors import Conflict, Invalid
from catalog.events import CatalogEvent, announce
from catalog.grants import put_grant
from catalog.models import (
    Department,
    GrantMode,
    MessageKind,
    Outcome,
    RequestStatus,
    Tool,
    ToolRequest,
    ToolStatus,
    TransferBasis,
)
from catalog.rate_limit_terms import checked_grant_limits
from catalog.requests import (
    move_to,
    record_request_change,
    request_state,
    requester_address,
    require_open,
)
from catalog.tools import create_tool, update_tool
from connectors.registry import SPECS_DIR, SpecError, load_spec, spec_files
from connectors.spec import ConnectorSpec
from gateway.db import utcnow
from gateway.identity.actors import Actor
from policies.taxonomy import known_data_categories, known_data_uses

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Tool settings a reviewer may give with an approval.
TOOL_SETTINGS = ("slug", "name", "connector", "base_url", "allow_private_network", "description")
#: Settings that change an existing tool only when the reviewer gives them.
_GIVEN_ONLY = ("name", "base_url", "allow_private_network", "description")


@dataclass(frozen=True)
class GrantTerms:
    department: Department
    purposes: list[str]
    data_categories: list[str]
    mode: GrantMode
    expires: date | None
    limits: dict[str, list[str]]


@dataclass(frozen=True)
class DecisionResult:
    outcome: Outcome
    tool: Tool | None = None
    #: credential fields the tool's connector needs that are not stored yet
    missing_credentials: tuple[str, ...] = ()


def tool_slug(vendor_name: str) -> str:
    """``Brevo (Sendinblue)`` → ``brevo-sendinblue``."""
    return re.sub(r"[^a-z0-9]+", "-", vendor_name.casefold()).strip("-")[:64] or "tool"


def decide(
    session: Session,
    actor: Actor,
    source: str,
    request: ToolRequest,
    given: Mapping[str, Any],
    spec_folders: tuple[Path, ...] = (SPECS_DIR,),
) -> DecisionResult:
    """Applies the reviewer's decision: ``outcome``, ``comment``, and for an approval
    ``grants``, ``review_due`` and ``tool`` settings."""
    actor.require("reviews:write")
    require_open(request)
    outcome = _outcome(given)
    comment = given.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        raise Invalid(
            "every decision needs a comment",
            [{"pointer": "/comment", "message": "is required: the requester reads it"}],
        )
    if outcome == Outcome.NEEDS_INFO:
        ask(session, actor, source, request, comment)
        return DecisionResult(outcome)
    if outcome == Outcome.REJECT:
        _close(session, actor, source, request, outcome, comment)
        return DecisionResult(outcome)
    return _approve(session, actor, source, request, outcome, given, spec_folders)


def _outcome(given: Mapping[str, Any]) -> Outcome:
    try:
        return Outcome(given.get("outcome"))
    except ValueError:
        raise Invalid(
            "the decision has no outcome",
            [{"pointer": "/outcome", "message": f"must be one of {', '.join(Outcome)}"}],
        ) from None


def _close(session, actor, source, request, outcome: Outcome, comment, tool=None) -> None:
    before = request_state(request)
    add_message(actor, request, MessageKind.DECISION, comment)
    request.outcome = outcome
    request.decided_by = actor.label
    request.decided_at = utcnow()
    request.tool = tool
    move_to(
        request, RequestStatus.REJECTED if outcome == Outcome.REJECT else RequestStatus.APPROVED
    )
    record_request_change(session, actor, source, request, "decided", before)
    announce(
        session,
        CatalogEvent(
            "request_decided",
            f"The request for {request.vendor_name} was decided: {outcome.value.replace('_', ' ')}",
            ("tool_request", str(request.id)),
            recipients=requester_address(request),
            details={"outcome": outcome.value, "tool": tool.slug if tool else None},
        ),
    )


def _approve(session, actor, source, request, outcome, given, spec_folders) -> DecisionResult:
    if not is_complete(request.review):
        missing = missing_answers(request.review.answers if request.review else {})
        raise Conflict(
            "the vendor-risk checklist is not complete; approving needs every required answer",
            [{"pointer": f"/checklist/{name}", "message": "is not answered"} for name in missing],
        )
    problems: list[dict] = []
    settings = _tool_settings(request, given.get("tool") or {}, spec_folders, problems)
    grants = _grant_terms(session, request, outcome, given.get("grants"), problems)
    review_due = _future_date(given.get("review_due"), "/review_due", problems)
    if problems:
        raise Invalid("the decision has problems; each is listed with its field", problems)
    tool = _approved_tool(session, actor, source, request, settings, review_due)
    for terms in grants:
        put_grant(
            session,
            actor,
            source,
            terms.department,
            tool,
            terms.purposes,
            terms.data_categories,
            terms.mode,
            terms.expires,
            terms.limits,
        )
    _close(session, actor, source, request, outcome, given["comment"], tool)
    missing = missing_credentials(tool, _spec_of(tool, spec_folders))
    if missing:
        announce(
            session,
            CatalogEvent(
                "credentials_needed",
                f"{tool.name} is approved and waits for its credentials: {', '.join(missing)}",
                ("tool", tool.slug),
                details={"fields": missing},
            ),
        )
    return DecisionResult(outcome, tool, tuple(missing))


def _tool_settings(request, given, spec_folders, problems: list[dict]) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        problems.append({"pointer": "/tool", "message": "must be an object of tool settings"})
        return {}
    unknown = sorted(set(given) - set(TOOL_SETTINGS))
    if unknown:
        problems.append({"pointer": "/tool", "message": f"unknown settings: {', '.join(unknown)}"})
    settings = {key: value for key, value in given.items() if value not in (None, "")}
    settings.setdefault("slug", tool_slug(request.vendor_name))
    connector = settings.setdefault("connector", request.connector)
    if not isinstance(settings["slug"], str) or not _SLUG.match(settings["slug"]):
        problems.append(
            {"pointer": "/tool/slug", "message": "must be lower-case letters, digits, - or _"}
        )
    if connector not in spec_files(spec_folders):
        problems.append(
            {"pointer": "/tool/connector", "message": "name the shipped connector the tool uses"}
        )
    base_url = settings.get("base_url")
    if base_url is not None and not re.fullmatch(r"https?://\S{1,492}", str(base_url)):
        problems.append(
            {
                "pointer": "/tool/base_url",
                "message": "must be an http(s) address of at most 500 characters",
            }
        )
    if not isinstance(settings.get("allow_private_network", False), bool):
        problems.append(
            {"pointer": "/tool/allow_private_network", "message": "must be true or false"}
        )
    return settings


def _grant_terms(session, request, outcome, given, problems: list[dict]) -> list[GrantTerms]:
    if given in (None, []):
        if outcome == Outcome.APPROVE_WITH_CONDITIONS:
            problems.append(
                {"pointer": "/grants", "message": "give at least one grant: the conditions"}
            )
            return []
        given = [
            {
                "department": department.slug,
                "purposes": request.purposes,
                "data_categories": request.data_categories,
            }
            for department in request.departments
        ]
    if not isinstance(given, list):
        problems.append({"pointer": "/grants", "message": "must be a list of grants"})
        return []
    return [
        terms
        for index, entry in enumerate(given)
        if (terms := _one_grant(session, entry, f"/grants/{index}", problems)) is not None
    ]


def _one_grant(session, entry, where: str, problems: list[dict]) -> GrantTerms | None:
    if not isinstance(entry, Mapping):
        problems.append({"pointer": where, "message": "must be an object"})
        return None
    count = len(problems)
    department = session.scalar(
        select(Department).where(Department.slug == entry.get("department"))
    )
    if department is None:
        problems.append({"pointer": f"{where}/department", "message": "no such department"})
    purposes = _keys(entry.get("purposes"), known_data_uses(), f"{where}/purposes", problems)
    categories = _keys(
        entry.get("data_categories"), known_data_categories(), f"{where}/data_categories", problems
    )
    mode = entry.get("mode") or "strict"
    if mode not in tuple(GrantMode):
        problems.append({"pointer": f"{where}/mode", "message": "must be strict or redact"})
    expires = _future_date(entry.get("expires"), f"{where}/expires", problems)
    limits = checked_grant_limits(entry.get("limits"), f"{where}/limits", problems)
    if len(problems) > count:
        return None
    return GrantTerms(department, purposes, categories, GrantMode(mode), expires, limits)


def _keys(value, known: frozenset[str], where: str, problems: list[dict]) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append({"pointer": where, "message": "choose at least one"})
        return []
    unknown = [key for key in value if key not in known]
    if unknown:
        problems.append(
            {"pointer": where, "message": f"not in fideslang: {', '.join(unknown[:5])}"}
        )
    return list(value)


def _future_date(value, where: str, problems: list[dict]) -> date | None:
    if value in (None, ""):
        return None
    try:
        when = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        problems.append({"pointer": where, "message": "must be a date such as 2027-06-30"})
    elif when <= utcnow().date():
        problems.append({"pointer": where, "message": "must be in the future"})
    return when


def _approved_tool(session, actor, source, request, settings, review_due) -> Tool:
    """Creates the tool, or approves the one the catalog has under that slug; an existing
    tool keeps its name, description and re-review date unless the reviewer gave new ones."""
    answers = request.review.answers
    fields = {
        "connector": settings["connector"],
        "status": ToolStatus.APPROVED,
        "status_reason": None,
        "country": answers["processing_country"],
        "transfer_basis": TransferBasis(answers["transfer_basis"]),
        "retention": str(answers["retention_terms"])[:200],
        **{key: settings[key] for key in _GIVEN_ONLY if key in settings},
    }
    if review_due is not None:
        fields["review_due"] = review_due
    tool = session.scalar(select(Tool).where(Tool.slug == settings["slug"]))
    if tool is None:
        fields.setdefault("name", request.vendor_name)
        fields.update(category=request.category, website=request.website)
        return create_tool(session, actor, source, settings["slug"], **fields)
    update_tool(session, actor, source, tool, action="approved", **fields)
    return tool


def _spec_of(tool: Tool, spec_folders: tuple[Path, ...]) -> ConnectorSpec | None:
    try:
        return load_spec(tool.connector, spec_folders)
    except SpecError:
        return None

"""A tool's life after approval: suspended, reinstated, retired, and re-reviewed on time.

Each step needs the reviewer's permission and a reason, is recorded in the history with
its verb (``suspended``, ``reinstated``, ``retired``) and announced to whoever listens.
The tool row changes, so the catalog snapshot's version moves and every gateway instance
refuses (or lets through again) the tool's traffic within a second. Retirement is final.
The proxy already refuses a tool past its ``review_due`` date; :func:`due_for_review`
lists those and the ones due soon, so IT re-reviews them before that happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Conflict, Invalid
from catalog.events import CatalogEvent, announce
from catalog.models import Tool, ToolStatus
from catalog.tools import update_tool
from gateway.identity.actors import Actor

PERMISSION = "reviews:write"
MAX_REASON = 2000


@dataclass(frozen=True)
class Step:
    #: the verb the history and the event use
    action: str
    #: the statuses a tool may be in for this step
    allowed_from: frozenset[ToolStatus]


#: The status a reviewer asks for -> the step that leads there.
STEPS = {
    ToolStatus.SUSPENDED: Step("suspended", frozenset({ToolStatus.APPROVED})),
    ToolStatus.APPROVED: Step("reinstated", frozenset({ToolStatus.SUSPENDED})),
    ToolStatus.RETIRED: Step("retired", frozenset(ToolStatus) - {ToolStatus.RETIRED}),
}


def change_status(
    session: Session, actor: Actor, source: str, tool: Tool, status: str, reason: str
) -> Tool:
    """Suspends (``suspended``), reinstates (``approved``) or retires (``retired``) the tool."""
    actor.require(PERMISSION)
    wanted = _target(status)
    reason = _checked_reason(reason)
    step = STEPS[wanted]
    if tool.status not in step.allowed_from:
        raise Conflict(
            f"tool {tool.slug!r} is {tool.status.value}; it cannot be {step.action} "
            f"(only a tool that is {' or '.join(sorted(s.value for s in step.allowed_from))})"
        )
    before = tool.status
    update_tool(
        session, actor, source, tool, action=step.action, status=wanted, status_reason=reason
    )
    announce(
        session,
        CatalogEvent(
            "tool_status_changed",
            f"{tool.name} was {step.action} by {actor.label}: {reason}",
            ("tool", tool.slug),
            details={"from": before.value, "to": wanted.value, "reason": reason},
        ),
    )
    return tool


def due_for_review(session: Session, within_days: int, today: date | None = None) -> list[Tool]:
    """Tools in use whose re-review date is past or within ``within_days``, soonest first."""
    limit = (today or date.today()) + timedelta(days=within_days)
    query = (
        select(Tool)
        .where(Tool.status.in_([ToolStatus.APPROVED, ToolStatus.SUSPENDED]))
        .where(Tool.review_due.is_not(None), Tool.review_due <= limit)
        .order_by(Tool.review_due, Tool.slug)
    )
    return list(session.scalars(query))


def _target(status: str) -> ToolStatus:
    try:
        wanted = ToolStatus(status)
    except ValueError:
        wanted = None
    if wanted not in STEPS:
        choices = ", ".join(sorted(s.value for s in STEPS))
        raise Invalid(
            f"status must be one of {choices}",
            [{"pointer": "/status", "message": f"must be one of {choices}"}],
        )
    return wanted


def _checked_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        message = "say why, for the history and for the people who use the tool"
        raise Invalid("a reason is required", [{"pointer": "/reason", "message": message}])
    if len(reason) > MAX_REASON:
        message = f"must be at most {MAX_REASON} characters"
        raise Invalid("the reason is too long", [{"pointer": "/reason", "message": message}])
    return reason

"""Tool requests: marketing asks IT for a tool, follows it, withdraws it; IT's queue.

A marketer sees the requests of the departments they act for, and no other: asking for
another department's request is answered as if it did not exist. Every change is
recorded in the history (object type ``tool_request``) and announced as an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from catalog.errors import Conflict, NotFound
from catalog.events import CatalogEvent, announce
from catalog.history import record_change
from catalog.models import (
    DECIDED,
    WAITING_FOR_IT,
    Department,
    RequestStatus,
    ToolRequest,
    Urgency,
    tool_request_departments,
)
from catalog.request_fields import read_request_fields
from gateway.db import utcnow
from gateway.identity.actors import Actor

#: Request ids are a 32-bit integer column; a larger number names no request (and
#: PostgreSQL would refuse to compare it).
MAX_REQUEST_ID = 2**31 - 1
#: The review queue puts the most urgent first.
URGENCY_RANK = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.NORMAL: 2, Urgency.LOW: 3}


def request_state(request: ToolRequest) -> dict[str, Any]:
    """The request as plain JSON, for the history."""
    return {
        "vendor_name": request.vendor_name,
        "website": request.website,
        "category": request.category,
        "connector": request.connector,
        "purposes": list(request.purposes),
        "data_categories": list(request.data_categories),
        "departments": request.department_slugs,
        "justification": request.justification,
        "expected_volume": request.expected_volume,
        "urgency": request.urgency.value,
        "desired_date": request.desired_date.isoformat() if request.desired_date else None,
        "status": request.status.value,
        "outcome": request.outcome.value if request.outcome else None,
        "tool": request.tool.slug if request.tool else None,
        "checklist": dict(request.review.answers) if request.review else None,
    }


def record_request_change(
    session: Session, actor: Actor, source: str, request: ToolRequest, action: str, before
) -> None:
    record_change(
        session,
        actor,
        source,
        "tool_request",
        request.id,
        request.vendor_name,
        action,
        before,
        request_state(request),
    )


def requester_address(request: ToolRequest) -> tuple[str, ...]:
    """Whom to tell about the request: the person who asked, if a person did."""
    return (request.requester_label,) if request.requester_id is not None else ()


def move_to(request: ToolRequest, status: RequestStatus) -> None:
    """Changes the status; the wait is counted again from now."""
    if request.status != status:
        request.status = status
        request.status_since = utcnow()


def submit(
    session: Session,
    actor: Actor,
    source: str,
    given: Mapping[str, Any],
    connectors: Iterable[str],
) -> ToolRequest:
    """Files a request for a tool; :class:`~catalog.errors.Invalid` lists every wrong field."""
    actor.require("requests:write")
    fields = read_request_fields(session, actor, given, connectors)
    request = ToolRequest(
        **vars(fields),
        requester_id=int(actor.id) if actor.kind == "user" else None,
        requester_label=actor.label,
        status=RequestStatus.SUBMITTED,
        status_since=utcnow(),
    )
    session.add(request)
    session.flush()
    record_request_change(session, actor, source, request, "created", None)
    names = ", ".join(department.name for department in request.departments)
    announce(
        session,
        CatalogEvent(
            "request_submitted",
            f"{names} asked for {request.vendor_name} ({request.urgency.value} urgency)",
            ("tool_request", str(request.id)),
            details={"urgency": request.urgency.value},
        ),
    )
    return request


def _visible(actor: Actor) -> Select:
    query = select(ToolRequest)
    if actor.departments is not None:
        query = query.where(
            exists()
            .where(tool_request_departments.c.request_id == ToolRequest.id)
            .where(tool_request_departments.c.department_id == Department.id)
            .where(Department.slug.in_(sorted(actor.departments)))
        )
    return query


def list_requests(
    session: Session,
    actor: Actor,
    status: RequestStatus | None = None,
    mine: bool = False,
    after_id: int | None = None,
    limit: int = 100,
) -> list[ToolRequest]:
    """The requests the actor may see, newest first; ``after_id`` continues a page."""
    actor.require("catalog:read")
    query = _visible(actor).order_by(ToolRequest.id.desc()).limit(limit)
    if status is not None:
        query = query.where(ToolRequest.status == status)
    if mine:
        query = query.where(ToolRequest.requester_label == actor.label)
        if actor.kind == "user":
            query = query.where(ToolRequest.requester_id == int(actor.id))
    if after_id is not None:
        query = query.where(ToolRequest.id <= min(after_id - 1, MAX_REQUEST_ID))
    return list(session.scalars(query))


def get_request(session: Session, actor: Actor, request_id: int) -> ToolRequest:
    """The request, if the actor may see it; otherwise as if there were none."""
    actor.require("catalog:read")
    request = None
    if 1 <= request_id <= MAX_REQUEST_ID:
        request = session.scalar(_visible(actor).where(ToolRequest.id == request_id))
    if request is None:
        raise NotFound(f"no tool request {request_id}")
    return request


def require_open(request: ToolRequest) -> None:
    if request.status in DECIDED:
        raise Conflict(f"this request is {request.status.value} already; it cannot change now")


def withdraw(session: Session, actor: Actor, source: str, request: ToolRequest) -> None:
    """The requester's side no longer needs the tool."""
    actor.require("requests:write")
    require_open(request)
    before = request_state(request)
    move_to(request, RequestStatus.WITHDRAWN)
    record_request_change(session, actor, source, request, "withdrawn", before)


def review_queue(session: Session, actor: Actor) -> list[tuple[ToolRequest, timedelta]]:
    """The requests waiting for IT, most urgent first and then the longest waiting, each
    with the time it has waited in its current state."""
    actor.require("reviews:write")
    waiting = session.scalars(select(ToolRequest).where(ToolRequest.status.in_(WAITING_FOR_IT)))
    now = utcnow()
    ordered = sorted(waiting, key=lambda r: (URGENCY_RANK[r.urgency], r.status_since, r.id))
    return [(request, now - request.status_since) for request in ordered]

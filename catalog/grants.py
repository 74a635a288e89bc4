"""Granting a department the use of a tool, each change recorded in the history.

A grant's limits (``per_app``, ``per_department``) are checked by
``catalog.rate_limit_terms`` before they reach here."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.history import record_change
from catalog.models import Department, Grant, GrantMode, Tool
from gateway.identity.actors import Actor


def grant_state(grant: Grant) -> dict[str, Any]:
    return {
        "department": grant.department.slug,
        "tool": grant.tool.slug,
        "purposes": sorted(grant.purposes),
        "data_categories": sorted(grant.data_categories),
        "mode": grant.mode.value,
        "expires": grant.expires.isoformat() if grant.expires else None,
        "limits": dict(grant.limits or {}),
    }


def put_grant(
    session: Session,
    actor: Actor,
    source: str,
    department: Department,
    tool: Tool,
    purposes: list[str],
    data_categories: list[str],
    mode: GrantMode = GrantMode.STRICT,
    expires: date | None = None,
    limits: dict[str, list[str]] | None = None,
) -> Grant:
    """The department's grant for the tool, created or replaced by these terms."""
    grant = session.scalar(
        select(Grant).where(Grant.department_id == department.id, Grant.tool_id == tool.id)
    )
    before = grant_state(grant) if grant is not None else None
    if grant is None:
        grant = Grant(department=department, tool=tool)
        session.add(grant)
    grant.purposes = sorted(set(purposes))
    grant.data_categories = sorted(set(data_categories))
    grant.mode = mode
    grant.expires = expires
    grant.limits = limits or {}
    after = grant_state(grant)
    record_change(
        session,
        actor,
        source,
        "grant",
        f"{department.slug}/{tool.slug}",
        f"{department.name} · {tool.name}",
        "created" if before is None else "updated",
        before,
        after,
    )
    return grant


def remove_grant(session: Session, actor: Actor, source: str, grant: Grant) -> None:
    record_change(
        session,
        actor,
        source,
        "grant",
        f"{grant.department.slug}/{grant.tool.slug}",
        f"{grant.department.name} · {grant.tool.name}",
        "deleted",
        grant_state(grant),
        None,
    )
    session.delete(grant)

"""Finding grants and departments by what the API's paths and filters name them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.cursors import BadCursor, make_cursor, read_cursor
from catalog.errors import NotFound
from catalog.models import Department, Grant, Tool


def find_department(session: Session, slug: str) -> Department:
    department = session.scalar(select(Department).where(Department.slug == slug))
    if department is None:
        raise NotFound(f"no department {slug!r}")
    return department


@dataclass(frozen=True)
class GrantPage:
    grants: list[Grant]
    next_cursor: str | None


def grant_page(
    session: Session,
    department: str | None,
    tool: str | None,
    limit: int = 100,
    cursor: str | None = None,
) -> GrantPage:
    """Grants, of a department or a tool if named, in the order they were made."""
    query = (
        select(Grant)
        .join(Grant.department)
        .join(Grant.tool)
        .options(joinedload(Grant.department), joinedload(Grant.tool))
        .order_by(Grant.id)
        .limit(limit + 1)
    )
    if department is not None:
        query = query.where(Department.slug == department)
    if tool is not None:
        query = query.where(Tool.slug == tool)
    after = read_cursor(cursor, 1)
    if after is not None:
        if not isinstance(after[0], int):
            raise BadCursor("cursor is not one this API returned")
        query = query.where(Grant.id > after[0])
    grants = list(session.scalars(query))
    more = len(grants) > limit
    grants = grants[:limit]
    return GrantPage(grants, make_cursor([grants[-1].id]) if more else None)


def find_grant(session: Session, department: Department, tool: Tool) -> Grant:
    grant = session.scalar(
        select(Grant).where(Grant.department_id == department.id, Grant.tool_id == tool.id)
    )
    if grant is None:
        raise NotFound(f"department {department.slug!r} has no grant for {tool.slug!r}")
    return grant

"""Changing catalog tools, each change recorded in the history.

Whoever creates or edits a tool (a reviewer's decision, the portal's tool page, the API,
``gatehouse apply``) goes through here, so the history has one account of every tool.
Credentials are not changed here; their values never enter the history.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Conflict, NotFound
from catalog.history import record_change
from catalog.models import Tool
from gateway.identity.actors import Actor

#: The fields of a tool the history shows (credentials only as the names of those stored).
TRACKED_FIELDS = (
    "name",
    "connector",
    "category",
    "website",
    "description",
    "base_url",
    "allow_private_network",
    "status",
    "status_reason",
    "country",
    "transfer_basis",
    "review_due",
    "iab_vendor_id",
    "data_subjects",
    "retention",
    "seats",
    "contract_volume",
    "inline_spec",
    "rate_limits",
    "vendor_quota",
    "limits_on_store_outage",
)


def tool_state(tool: Tool) -> dict[str, Any]:
    """The tool as plain JSON, for the history and for comparing before with after."""
    state = {name: _plain(getattr(tool, name)) for name in TRACKED_FIELDS}
    state["credentials"] = sorted(tool.credential_sources or {})
    return state


def find_tool(session: Session, slug: str) -> Tool:
    tool = session.scalar(select(Tool).where(Tool.slug == slug))
    if tool is None:
        raise NotFound(f"no tool {slug!r} in the catalog")
    return tool


def create_tool(session: Session, actor: Actor, source: str, slug: str, **fields: Any) -> Tool:
    if session.scalar(select(Tool.id).where(Tool.slug == slug)) is not None:
        raise Conflict(f"a tool {slug!r} is in the catalog already")
    tool = Tool(slug=slug, credential_sources={}, **fields)
    session.add(tool)
    session.flush()
    record_change(
        session, actor, source, "tool", slug, tool.name, "created", None, tool_state(tool)
    )
    return tool


def update_tool(
    session: Session, actor: Actor, source: str, tool: Tool, action: str = "updated", **fields: Any
) -> bool:
    """Sets ``fields`` on ``tool``; records and returns whether anything changed.
    ``action`` names a lifecycle step (``suspended``, ``reinstated``, ...) if it is one."""
    before = tool_state(tool)
    for name, value in fields.items():
        if name not in TRACKED_FIELDS:
            raise ValueError(f"{name} is not a field a tool change may set")
        setattr(tool, name, value)
    after = tool_state(tool)
    if before == after:
        return False
    record_change(session, actor, source, "tool", tool.slug, tool.name, action, before, after)
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # an enum
        return value.value
    return value

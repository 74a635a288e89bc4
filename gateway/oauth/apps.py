"""Apps of departments: registering, listing, removing them and rotating their secret.

An app is an OAuth client owned by one department. The portal, the API, ``gatehouse
clients create`` and ``gatehouse apply`` all register apps here, so each gets the same
checks and the same account in the history. A marketer sees and changes the apps of
their own departments only; another department's app is "not found". Nothing is ever
deleted: the exchange log keeps naming the apps that made its calls.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Conflict, Invalid, NotFound
from catalog.history import record_change
from catalog.models import Department, Tool
from gateway.identity.actors import Actor
from gateway.oauth.api_keys import revoke_all_keys
from gateway.oauth.clients import KNOWN_SCOPES, new_client_secret, rotate_client_secret
from gateway.oauth.models import Client

MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
APP_SCOPES = ("proxy",)


def register_app(
    session: Session,
    actor: Actor,
    source: str,
    name: str,
    department: str,
    tools: Iterable[str] = (),
    description: str | None = None,
    scopes: Iterable[str] = APP_SCOPES,
) -> tuple[Client, str]:
    """A new app of ``department`` and its client secret, shown this once and stored
    only hashed. Every field's problem is reported at once, each at its pointer."""
    actor.require("apps:write")
    name, description = name.strip(), (description or "").strip() or None
    tools, scopes = list(dict.fromkeys(tools)), sorted(set(scopes))
    owner = _department(session, actor, department)
    errors = [
        *_name_errors(name),
        *_description_errors(description),
        *_department_errors(owner, department),
        *_tool_errors(session, tools),
        *_scope_errors(scopes),
    ]
    if errors:
        raise Invalid("the app cannot be registered as given", errors)
    if session.scalar(select(Client.id).where(Client.name == name)) is not None:
        raise Conflict(f"an app named {name!r} exists already; choose another name")
    secret, secret_hash = new_client_secret()
    client = Client(
        client_id="gh_" + secrets.token_urlsafe(12),
        secret_hash=secret_hash,
        name=name,
        department=owner,
        scopes=" ".join(scopes),
        description=description,
        tools=sorted(tools),
    )
    session.add(client)
    session.flush()
    _record(session, actor, source, client, "created", None)
    return client, secret


def list_apps(session: Session, actor: Actor, after_id: int = 0, limit: int = 100) -> list[Client]:
    """The apps the actor may see, oldest first, from after ``after_id``."""
    actor.require("catalog:read")
    query = select(Client).where(Client.id > after_id).order_by(Client.id).limit(limit)
    if actor.departments is not None:
        query = query.join(Department).where(Department.slug.in_(actor.departments))
    return list(session.scalars(query))


def get_app(session: Session, actor: Actor, app_id: int) -> Client:
    """The app, if it exists and is of a department the actor sees."""
    actor.require("catalog:read")
    client = session.get(Client, app_id)
    if client is None or not actor.sees(client.department.slug):
        raise NotFound(f"no app {app_id}")
    return client


def remove_app(session: Session, actor: Actor, source: str, client: Client) -> None:
    """Deactivate the app and revoke its keys: its tokens and keys are refused from now on."""
    _check_may_change(actor, client)
    if not client.active:
        return
    before = app_state(client)
    revoke_all_keys(session, actor, source, client)
    client.active = False
    _record(session, actor, source, client, "deactivated", before)


def rotate_app_secret(session: Session, actor: Actor, source: str, client: Client) -> str:
    """A new client secret, shown this once; the old one stops working at once."""
    _check_may_change(actor, client)
    if not client.active:
        raise Conflict(f"app {client.name!r} is removed; register a new app instead")
    secret = rotate_client_secret(client)
    _record(session, actor, source, client, "secret_rotated", None)
    return secret


def app_state(client: Client) -> dict[str, Any]:
    """The app as the history and the API show it (its secret never)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "department": client.department.slug,
        "tools": list(client.tools or []),
        "description": client.description,
        "scopes": client.scopes.split(),
        "active": client.active,
    }


def _check_may_change(actor: Actor, client: Client) -> None:
    actor.require_department(client.department.slug)
    actor.require("apps:write")


def _department(session: Session, actor: Actor, slug: str) -> Department | None:
    """The department, if it exists and the actor acts for it (the two not told apart)."""
    if not actor.sees(slug):
        return None
    return session.scalar(select(Department).where(Department.slug == slug))


def _department_errors(owner: Department | None, slug: str) -> list[dict]:
    if owner is None:
        return [_error("/department", f"no department {slug[:64]!r} among those you act for")]
    return []


def _name_errors(name: str) -> list[dict]:
    if not name:
        return [_error("/name", "is required")]
    if len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in name):
        return [_error("/name", f"must be at most {MAX_NAME_LENGTH} characters, on one line")]
    return []


def _description_errors(description: str | None) -> list[dict]:
    if description and len(description) > MAX_DESCRIPTION_LENGTH:
        return [_error("/description", f"must be at most {MAX_DESCRIPTION_LENGTH} characters")]
    return []


def _tool_errors(session: Session, tools: list[str]) -> list[dict]:
    known = set(session.scalars(select(Tool.slug).where(Tool.slug.in_(tools)))) if tools else set()
    return [
        _error(f"/tools/{index}", f"no tool {slug[:64]!r} in the catalog")
        for index, slug in enumerate(tools)
        if slug not in known
    ]


def _scope_errors(scopes: list[str]) -> list[dict]:
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        return [_error("/scopes", f"unknown scopes {unknown}; known: {sorted(KNOWN_SCOPES)}")]
    return []


def _error(pointer: str, message: str) -> dict:
    return {"pointer": pointer, "message": message}


def _record(
    session: Session, actor: Actor, source: str, client: Client, action: str, before: dict | None
) -> None:
    after = app_state(client)
    record_change(
        session, actor, source, "app", client.client_id, client.name, action, before, after
    )

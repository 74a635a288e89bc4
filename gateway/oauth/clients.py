"""Registering apps and the in-memory view of them the proxy uses."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.models import Department
from gateway.identity.roles import PERMISSIONS
from gateway.oauth.models import Client, hash_client_secret

#: An app may hold any permission of the API as a scope (``audit:read`` is the auditor's:
#: every audit query and report, and nothing else), and two of its own: calling tools
#: through the proxy, and introspecting tokens.
KNOWN_SCOPES = frozenset({"proxy", "introspect", *PERMISSIONS})


class ClientError(ValueError):
    """A client cannot be registered as asked; the message says why."""


@dataclass(frozen=True)
class ClientView:
    client_id: str
    name: str
    department: str
    scopes: frozenset[str]
    active: bool


def register_client(
    session: Session, name: str, department: Department, scopes: list[str]
) -> tuple[Client, str]:
    """A new client and its secret, which is shown this once and stored only hashed."""
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise ClientError(f"unknown scopes {sorted(unknown)}; known: {sorted(KNOWN_SCOPES)}")
    if session.scalar(select(Client).where(Client.name == name)) is not None:
        raise ClientError(f"a client named {name!r} exists already")
    secret = secrets.token_urlsafe(32)
    client = Client(
        client_id="gh_" + secrets.token_urlsafe(12),
        secret_hash=hash_client_secret(secret),
        name=name,
        department=department,
        scopes=" ".join(sorted(set(scopes))),
    )
    session.add(client)
    return client, secret


def rotate_client_secret(client: Client) -> str:
    secret = secrets.token_urlsafe(32)
    client.secret_hash = hash_client_secret(secret)
    return secret


def build_client_views(session: Session) -> Mapping[str, ClientView]:
    clients = session.scalars(select(Client).options(joinedload(Client.department)))
    return MappingProxyType(
        {
            client.client_id: ClientView(
                client_id=client.client_id,
                name=client.name,
                department=client.department.slug,
                scopes=frozenset(client.scopes.split()),
                active=client.active,
            )
            for client in clients
        }
    )

"""The scopes an app may hold, its secret, and the in-memory view of apps the proxy uses.

Apps are registered by ``gateway.oauth.apps``."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from gateway.identity.roles import PERMISSIONS
from gateway.oauth.models import Client, hash_client_secret

#: An app may hold any permission of the API as a scope (``audit:read`` is the auditor's:
#: every audit query and report, and nothing else), and two of its own: calling tools
#: through the proxy, and introspecting tokens.
KNOWN_SCOPES = frozenset({"proxy", "introspect", *PERMISSIONS})


@dataclass(frozen=True)
class ClientView:
    client_id: str
    name: str
    department: str
    scopes: frozenset[str]
    active: bool


def new_client_secret() -> tuple[str, str]:
    """A client secret, and the hash of it that is stored."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_client_secret(secret)


def rotate_client_secret(client: Client) -> str:
    secret, client.secret_hash = new_client_secret()
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

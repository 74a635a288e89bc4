"""API keys of apps: long-lived, shown once, stored hashed, rotatable with an overlap.

A key reads ``ghk_<key_id>_<secret>``. The ``key_id`` is public (it names the key in
lists, the history and error details); only a hash of the secret is stored. An app sends
its key wherever its vendor's SDK sends the vendor's key, so the SDK needs nothing but
the gateway's base URL and the key. Keys open the proxy only, never the JSON API.

The proxy checks keys against :func:`build_key_views`, an in-memory snapshot rebuilt
when the catalog's version moves, so a governed call makes no database round trip.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Conflict, Invalid, NotFound
from catalog.history import record_change
from gateway.db import utcnow
from gateway.identity.actors import Actor
from gateway.oauth.models import ApiKey, Client

PREFIX = "ghk_"
KEY_ID_LENGTH = 12
#: A rotated key keeps working this long unless the rotation says otherwise.
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP_HOURS = 24 * 30
MAX_NAME_LENGTH = 200
#: What a key opens: the proxy, and nothing of the API.
KEY_SCOPES = frozenset({"proxy"})
_KEY = re.compile(rf"{PREFIX}([A-Za-z0-9_-]{{{KEY_ID_LENGTH}}})_([A-Za-z0-9_-]{{43}})")


class InvalidApiKey(Exception):
    """The key is malformed, unknown, revoked or expired; the message says which and
    never repeats the key."""


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``plaintext`` is shown this once and stored nowhere."""

    key: ApiKey
    plaintext: str


@dataclass(frozen=True)
class KeyView:
    """What the proxy needs to know of one key."""

    key_id: str
    secret_hash: str
    client_id: str
    #: POSIX time after which the key is refused; None: it does not expire
    expires_at: float | None
    revoked: bool


def is_api_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


def hash_key_secret(secret: str) -> str:
    """SHA-256: the secret is 256 random bits, so there is nothing to guess and a slow
    hash (Argon2) would only add its cost to every proxied call."""
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_api_key(presented: str, keys: Mapping[str, KeyView], now: float) -> KeyView:
    """The key's view if ``presented`` is a key that may be used at ``now``."""
    match = _KEY.fullmatch(presented)
    if match is None:
        raise InvalidApiKey(
            f"the API key is malformed: a key reads {PREFIX}<12 characters>_<43 characters>"
        )
    key_id, secret = match.groups()
    view = keys.get(key_id)
    if view is None or not hmac.compare_digest(view.secret_hash, hash_key_secret(secret)):
        raise InvalidApiKey("the API key is not one this gateway issued")
    if view.revoked:
        raise InvalidApiKey(f"the API key {key_id} has been revoked")
    if view.expires_at is not None and view.expires_at <= now:
        raise InvalidApiKey(f"the API key {key_id} has expired")
    return view


def build_key_views(session: Session) -> Mapping[str, KeyView]:
    columns = (ApiKey.key_id, ApiKey.secret_hash, Client.client_id, ApiKey.expires_at)
    rows = session.execute(
        select(*columns, ApiKey.revoked_at).join(Client, ApiKey.client_id == Client.id)
    )
    return MappingProxyType(
        {
            key_id: KeyView(
                key_id,
                secret_hash,
                client_id,
                expires_at.timestamp() if expires_at else None,
                revoked_at is not None,
            )
            for key_id, secret_hash, client_id, expires_at, revoked_at in rows
        }
    )


def key_state(key: ApiKey, now: datetime | None = None) -> str:
    """``active``, ``expiring`` (rotated or dated, still working), ``expired`` or ``revoked``."""
    now = now or utcnow()
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is None:
        return "active"
    return "expiring" if key.expires_at > now else "expired"


def key_summary(key: ApiKey) -> dict[str, Any]:
    """A key as lists and the API show it: never its secret nor the hash of it."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "created_at": key.created_at.isoformat(),
        "created_by": key.created_by,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "state": key_state(key),
    }


def find_key(client: Client, key_id: str) -> ApiKey:
    key = next((key for key in client.api_keys if key.key_id == key_id), None)
    if key is None:
        raise NotFound(f"app {client.name!r} has no key {key_id[:40]!r}")
    return key


def create_key(
    session: Session,
    actor: Actor,
    source: str,
    client: Client,
    name: str = "",
    expires_at: datetime | None = None,
) -> NewKey:
    """A new key of ``client`` (an app the actor may change: see ``gateway.oauth.apps``)."""
    _check_may_change(actor, client)
    name = _checked_name(name)
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid(
            "the expiry is in the past",
            [{"pointer": "/expires_at", "message": "must be a time in the future"}],
        )
    key_id = secrets.token_urlsafe(9)  # 9 bytes: 12 characters
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        key_id=key_id,
        secret_hash=hash_key_secret(secret),
        name=name,
        created_by=actor.label[:320],
        expires_at=expires_at,
    )
    client.api_keys.append(key)
    session.flush()
    _record(session, actor, source, client, key, "created", None)
    return NewKey(key, f"{PREFIX}{key_id}_{secret}")


def rotate_key(
    session: Session,
    actor: Actor,
    source: str,
    client: Client,
    old_key_id: str,
    overlap: timedelta = DEFAULT_OVERLAP,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> NewKey:
    """A new key replacing ``old_key_id``, which keeps working for ``overlap`` (0: stops
    now) so the app can be redeployed with the new one without an outage."""
    _check_may_change(actor, client)
    old = find_key(client, old_key_id)
    if key_state(old) in ("revoked", "expired"):
        raise Conflict(f"key {old.key_id} is {key_state(old)}; create a new key instead")
    if not timedelta(0) <= overlap <= timedelta(hours=MAX_OVERLAP_HOURS):
        raise Invalid(
            "the overlap is out of range",
            [
                {
                    "pointer": "/overlap_hours",
                    "message": f"must be from 0 to {MAX_OVERLAP_HOURS} hours",
                }
            ],
        )
    new = create_key(session, actor, source, client, old.name if name is None else name, expires_at)
    before = _key_record(client, old)
    end = utcnow() + overlap
    old.expires_at = min(old.expires_at, end) if old.expires_at else end
    _record(session, actor, source, client, old, "rotated", before)
    return new


def revoke_key(session: Session, actor: Actor, source: str, client: Client, key_id: str) -> ApiKey:
    """Refuse the key from now on (within the snapshot's age on other instances)."""
    _check_may_change(actor, client)
    key = find_key(client, key_id)
    if key.revoked_at is not None:
        return key
    before = _key_record(client, key)
    key.revoked_at = utcnow()
    _record(session, actor, source, client, key, "revoked", before)
    return key


def revoke_all_keys(session: Session, actor: Actor, source: str, client: Client) -> None:
    for key in client.api_keys:
        revoke_key(session, actor, source, client, key.key_id)


def _check_may_change(actor: Actor, client: Client) -> None:
    actor.require_department(client.department.slug)
    actor.require("apps:write")


def _checked_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in name):
        raise Invalid(
            "the key's name cannot be used",
            [
                {
                    "pointer": "/name",
                    "message": f"must be at most {MAX_NAME_LENGTH} characters, on one line",
                }
            ],
        )
    return name


def _key_record(client: Client, key: ApiKey) -> dict[str, Any]:
    """The key as the history keeps it."""
    return {
        "app": client.client_id,
        "name": key.name,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _record(
    session: Session,
    actor: Actor,
    source: str,
    client: Client,
    key: ApiKey,
    action: str,
    before: dict | None,
) -> None:
    label = f"{client.name} · {key.key_id}" + (f" ({key.name})" if key.name else "")
    after = _key_record(client, key)
    record_change(session, actor, source, "api_key", key.key_id, label, action, before, after)

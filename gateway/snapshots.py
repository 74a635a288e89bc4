"""Immutable in-memory views of database state, rebuilt when their version changes.

The hot path reads the catalog, the clients, their API keys, the revoked tokens and the
token signing keys from here, never from the database. When the versions are due, one
query reads every version counter; a view whose counter moved is rebuilt. They are due
when a change was announced (on PostgreSQL, ``gateway.change_listener`` hears every
committed change as it commits), and otherwise at most every
``GATEHOUSE_SNAPSHOT_MAX_AGE`` seconds -- or, while changes are being announced to this
process, only every ``GATEHOUSE_SNAPSHOT_POLL`` seconds, a safety net. That is how a
change made on one instance (or by the CLI) reaches all of them within a second. The
files (connectors, policy) announce nothing: their fingerprints are looked at every
``GATEHOUSE_SNAPSHOT_MAX_AGE`` seconds either way.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog.snapshot import build_catalog_snapshot
from connectors.registry import fingerprint as connector_fingerprint
from gateway.db import db, read_versions
from gateway.oauth.api_keys import build_key_views
from gateway.oauth.clients import build_client_views
from gateway.oauth.keys import SNAPSHOT as SIGNING_KEYS
from gateway.oauth.keys import load_signing_keys
from gateway.oauth.revocations import build_revoked_ids
from gateway.vault import vault_of
from policies.policy import load_policy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _View:
    version_names: tuple[str, ...]
    build: Callable[[Session], Any]


class Snapshots:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        max_age: float,
        local_versions: Callable[[], dict[str, Any]] = dict,
        poll: float | None = None,
    ) -> None:
        self._sessions = sessions
        self._max_age = max_age
        self._poll = max_age if poll is None else max(poll, max_age)
        self._local_versions = local_versions
        self._views: dict[str, _View] = {}
        self._values: dict[str, Any] = {}
        self._built_at_version: dict[str, tuple] = {}
        self._database_versions: dict[str, Any] = {}
        self._checked_at = float("-inf")
        self._read_at = float("-inf")
        #: Changes made known (numbered), and the last one the views were checked after.
        self._changes = itertools.count(1)
        self._latest_change = 0
        self._checked_change = -1
        self._announced = False
        self._lock = threading.Lock()

    def register(self, name: str, build: Callable[[Session], Any], *version_names: str) -> None:
        """Keep view ``name`` built by ``build``, rebuilt when any named version moves."""
        self._views[name] = _View(version_names, build)

    def get(self, name: str) -> Any:
        if self._due() or name not in self._values:
            self._refresh(name)
        return self._values[name]

    def invalidate(self) -> None:
        """Make the next read check the versions (after a change made by this instance,
        or announced)."""
        self._latest_change = next(self._changes)  # atomic, unlike += (listener, requests)

    def announced(self, announced: bool) -> None:
        """Whether every committed change is being announced to this process (then the
        versions are polled every ``poll`` seconds, else every ``max_age``). Either way
        the next read checks the versions: what happened meanwhile may not have been."""
        self._announced = announced
        self.invalidate()

    def _due(self) -> bool:
        return (
            self._latest_change != self._checked_change
            or time.monotonic() - self._checked_at >= self._max_age
        )

    def _refresh(self, wanted: str) -> None:
        with self._lock:
            if not self._due() and wanted in self._values:
                return
            now = time.monotonic()
            # A change made known from now on is read at the next check; one made known
            # before was committed before the read below. Readers meanwhile wait for it.
            change = self._latest_change
            read_database = (
                change != self._checked_change or now - self._read_at >= self._database_interval()
            )
            try:
                self._rebuild_changed(read_database, now, wanted)
            except SQLAlchemyError:
                self._read_at = float("-inf")
                if wanted not in self._values:
                    raise
                logger.exception("snapshot refresh failed; serving the previous snapshot")
            self._checked_at, self._checked_change = now, change

    def _database_interval(self) -> float:
        return self._poll if self._announced else self._max_age

    def _rebuild_changed(self, read_database: bool, now: float, wanted: str) -> None:
        with self._sessions() as session:  # connects only if it reads or rebuilds
            if read_database or not self._database_versions:
                self._database_versions = read_versions(session)
                self._read_at = now
            versions = {**self._database_versions, **self._local_versions()}
            for name, view in self._views.items():
                if name not in self._values and name != wanted:
                    continue  # built when first read: one that fails holds up no other
                version = tuple(versions.get(version_name) for version_name in view.version_names)
                if name not in self._values or self._built_at_version[name] != version:
                    self._rebuild(name, view, session, version)

    def _rebuild(self, name: str, view: _View, session: Session, version: tuple) -> None:
        try:
            self._values[name] = view.build(session)
        except Exception:
            if name not in self._values:
                raise
            # A broken edit (say, of the policy file) must not leave the gateway without
            # rules: keep the last good view, and try again at the next check.
            logger.exception("rebuilding %s failed; keeping the previous one", name)
            return
        self._built_at_version[name] = version


def file_fingerprint(path: Path) -> tuple[int, int]:
    """Changes when the file is modified."""
    status = path.stat()
    return status.st_mtime_ns, status.st_size


def snapshots_of(app: Flask) -> Snapshots:
    return app.extensions["gatehouse.snapshots"]


def init_app(app: Flask) -> None:
    config = app.extensions["gatehouse.config"]
    vault = vault_of(app)
    folders, policy_file = config.connector_folders, config.policy_file
    snapshots = Snapshots(
        db.of(app).sessions,
        config.snapshot_max_age,
        lambda: {
            "connectors": connector_fingerprint(folders),
            "policy": file_fingerprint(policy_file),
        },
        config.snapshot_poll,
    )
    snapshots.register("policy", lambda session: load_policy(policy_file), "policy")
    snapshots.register(
        "catalog",
        lambda session: build_catalog_snapshot(session, vault.decrypt_json, folders),
        "catalog",
        "connectors",
    )
    snapshots.register("clients", build_client_views, "catalog")
    snapshots.register("api_keys", build_key_views, "catalog")
    snapshots.register("revocations", build_revoked_ids, "revocations")
    snapshots.register(
        SIGNING_KEYS, lambda session: load_signing_keys(session, vault), SIGNING_KEYS
    )
    app.extensions["gatehouse.snapshots"] = snapshots

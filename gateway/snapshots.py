"""Immutable in-memory views of database state, rebuilt when their version changes.

The hot path reads the catalog, the clients, their API keys and the revoked tokens from here, never
from the database. At most once per ``GATEHOUSE_SNAPSHOT_MAX_AGE`` seconds one
query reads every version counter; a view whose counter moved is rebuilt. That is
how a change made on one instance (or by the CLI) reaches all of them within a second.
"""

from __future__ import annotations

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
    ) -> None:
        self._sessions = sessions
        self._max_age = max_age
        self._local_versions = local_versions
        self._views: dict[str, _View] = {}
        self._values: dict[str, Any] = {}
        self._built_at_version: dict[str, tuple] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def register(self, name: str, build: Callable[[Session], Any], *version_names: str) -> None:
        """Keep view ``name`` built by ``build``, rebuilt when any named version moves."""
        self._views[name] = _View(version_names, build)

    def get(self, name: str) -> Any:
        if time.monotonic() - self._checked_at >= self._max_age or name not in self._values:
            self._refresh()
        return self._values[name]

    def invalidate(self) -> None:
        """Make the next read check the versions (after a change made by this instance)."""
        self._checked_at = float("-inf")

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked_at < self._max_age and len(self._values) == len(
                self._views
            ):
                return
            try:
                self._rebuild_changed()
            except SQLAlchemyError:
                if len(self._values) < len(self._views):
                    raise
                logger.exception("snapshot refresh failed; serving the previous snapshot")
            self._checked_at = time.monotonic()

    def _rebuild_changed(self) -> None:
        with self._sessions() as session:
            versions = {**read_versions(session), **self._local_versions()}
            for name, view in self._views.items():
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
    app.extensions["gatehouse.snapshots"] = snapshots

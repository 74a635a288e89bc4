"""Snapshots read the versions when a change is made known, and otherwise poll: every
``max_age`` seconds, or every ``poll`` seconds while changes are announced (the files'
fingerprints are still looked at every ``max_age``). On PostgreSQL a version bump is
announced at commit, and only then, and a process's listener hears it, and again after
its connection was killed."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import sessionmaker

from gateway.change_listener import (
    APPLICATION_NAME,
    CHANNEL,
    ChangeListener,
    listener_connection,
)
from gateway.db import StateVersion, read_versions
from gateway.snapshots import Snapshots

postgresql_only = pytest.mark.skipif(
    not os.environ.get("GATEHOUSE_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="LISTEN/NOTIFY is PostgreSQL's; on SQLite the poll alone carries changes",
)


def bump(engine, name: str = "catalog") -> None:
    """A change committed elsewhere (another instance, the CLI)."""
    with engine.begin() as connection:
        connection.execute(
            update(StateVersion)
            .where(StateVersion.name == name)
            .values(version=StateVersion.version + 1)
        )


def catalog_version(engine, files: dict | None = None, **timing) -> Snapshots:
    """Snapshots of two views: "seen", the catalog's version number as read when built,
    and "files", the files' fingerprint."""
    files = files if files is not None else {"policy": 1}
    snapshots = Snapshots(sessionmaker(engine), local_versions=lambda: dict(files), **timing)
    snapshots.register("seen", lambda session: (read_versions(session)["catalog"],), "catalog")
    snapshots.register("files", lambda session: files["policy"], "policy")
    return snapshots


def test_a_change_made_known_is_read_at_once(migrated_engine):
    snapshots = catalog_version(migrated_engine, max_age=30)
    (before,) = snapshots.get("seen")
    bump(migrated_engine)
    assert snapshots.get("seen")[0] == before  # not due for 30 s
    snapshots.invalidate()
    assert snapshots.get("seen")[0] == before + 1


def test_while_changes_are_announced_the_versions_are_polled_rarely(migrated_engine):
    files = {"policy": 1}
    snapshots = catalog_version(migrated_engine, files, max_age=0.05, poll=30)
    snapshots.announced(True)
    (before,) = snapshots.get("seen")
    bump(migrated_engine)
    files["policy"] = 2
    time.sleep(0.1)
    # The files are looked at every max_age; the database waits for the poll.
    assert (snapshots.get("seen")[0], snapshots.get("files")) == (before, 2)
    snapshots.announced(False)  # the listener lost its connection: read now, poll often
    assert snapshots.get("seen")[0] == before + 1
    bump(migrated_engine)
    time.sleep(0.1)
    assert snapshots.get("seen")[0] == before + 2


@postgresql_only
def test_a_bump_is_announced_when_committed_and_only_then(migrated_engine):
    connect = listener_connection(migrated_engine, timeout=3)
    with connect() as listening:
        listening.execute(f"LISTEN {CHANNEL}")
        with migrated_engine.connect() as connection:  # rolled back: nothing is announced
            connection.execute(
                update(StateVersion).where(StateVersion.name == "revocations").values(version=0)
            )
            connection.rollback()
        assert list(listening.notifies(timeout=0.5)) == []
        bump(migrated_engine, "revocations")
        heard = list(listening.notifies(timeout=5, stop_after=1))
    assert [(n.channel, n.payload) for n in heard] == [(CHANNEL, "revocations")]


def listening_backends(engine) -> set[int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
                "AND query ILIKE 'LISTEN%'"
            ),
            {"name": f"{APPLICATION_NAME}-{os.getpid()}"},
        )
        return {pid for (pid,) in rows}


def seen_within(snapshots: Snapshots, version: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while snapshots.get("seen")[0] != version:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@postgresql_only
def test_the_listener_hears_changes_and_again_after_its_connection_is_killed(
    migrated_engine,
):
    snapshots = catalog_version(migrated_engine, max_age=30, poll=30)
    listener = ChangeListener(listener_connection(migrated_engine, timeout=3), snapshots)
    listener.start()
    try:
        deadline = time.monotonic() + 10
        while not listening_backends(migrated_engine) and time.monotonic() < deadline:
            time.sleep(0.05)
        (backend,) = listening_backends(migrated_engine)
        version = snapshots.get("seen")[0]
        bump(migrated_engine)
        assert seen_within(snapshots, version + 1, 1)

        with migrated_engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        while listening_backends(migrated_engine) in (set(), {backend}):
            assert time.monotonic() < deadline + 10, "the listener did not reconnect"
            time.sleep(0.05)
        snapshots.get("seen")  # what reconnecting made due
        bump(migrated_engine)
        assert seen_within(snapshots, version + 2, 1)
    finally:
        listener.stop()
    assert not listening_backends(migrated_engine)  # its connection closed with it

"""Changes announced by PostgreSQL reach this process's snapshots as they commit.

Every update of a state version notifies the ``gatehouse_changes`` channel (the trigger
of migration 0013), which PostgreSQL delivers at commit, and only then, to every
connection listening. Each gateway worker keeps one connection of its own for that
(autocommit, outside the pool, opened after the fork) and waits on it in a daemon
thread; a notification marks the snapshots stale, so the next request reads the versions
and rebuilds what moved. While the connection is up the snapshots poll the versions only
every ``GATEHOUSE_SNAPSHOT_POLL`` seconds, a safety net; when it drops they go back to
every ``GATEHOUSE_SNAPSHOT_MAX_AGE`` seconds while the listener reconnects, with a
doubling delay. Back, it marks the snapshots stale: a change may have gone unheard.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import psycopg
from flask import Flask
from sqlalchemy.engine import Engine

from gateway.config import config_of
from gateway.db import db
from gateway.metrics import observe_change_listener, observe_change_notification
from gateway.snapshots import Snapshots, snapshots_of

logger = logging.getLogger(__name__)

CHANNEL = "gatehouse_changes"
#: How the listening connections show in ``pg_stat_activity`` (with the worker's pid).
APPLICATION_NAME = "gatehouse-changes"
#: Seconds before the first attempt to reconnect; each failed one doubles it, up to the last.
FIRST_RETRY, LAST_RETRY = 0.1, 5.0
#: Seconds the thread waits for a notification before looking whether it is to stop.
WAKE_EVERY = 1.0
#: TCP keepalives, so that a connection silently cut (no reset) is noticed in ~20 s.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class ChangeListener:
    """Listens on one connection made by ``connect``; tells ``snapshots`` what it hears."""

    def __init__(self, connect: Callable[[], psycopg.Connection], snapshots: Snapshots) -> None:
        self._connect = connect
        self._snapshots = snapshots
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="gatehouse-change-listener", daemon=True
        )
        self._connected_before = False
        self._listening = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=WAKE_EVERY * 5)

    def _run(self) -> None:
        delay = FIRST_RETRY
        while not self._stopping.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._up()
                    delay = FIRST_RETRY
                    self._hear(connection)
            except psycopg.Error as exc:
                logger.warning(
                    "not hearing database changes (%s): polling the versions meanwhile; "
                    "trying again in %.1f s",
                    str(exc).strip() or type(exc).__name__,
                    delay,
                )
            except Exception:  # the thread must go on: a dead listener would go unnoticed
                logger.exception("the change listener failed; trying again in %.1f s", delay)
            self._down()
            self._stopping.wait(delay)
            delay = min(delay * 2, LAST_RETRY)

    def _hear(self, connection: psycopg.Connection) -> None:
        while not self._stopping.is_set():
            for notification in connection.notifies(timeout=WAKE_EVERY):
                self._snapshots.invalidate()
                observe_change_notification(notification.payload)

    def _up(self) -> None:
        if self._connected_before:
            logger.info("hearing database changes again")
        observe_change_listener(up=True, event="restored" if self._connected_before else None)
        self._connected_before = self._listening = True
        self._snapshots.announced(True)

    def _down(self) -> None:
        self._snapshots.announced(False)
        observe_change_listener(up=False, event="lost" if self._listening else None)
        self._listening = False


def listener_connection(engine: Engine, timeout: float) -> Callable[[], psycopg.Connection]:
    """Opens a connection to the engine's database, as the engine would, for listening."""
    arguments, options = engine.dialect.create_connect_args(engine.url)
    options = {
        **options,
        **KEEPALIVES,
        "connect_timeout": max(2, round(timeout)),
        "application_name": f"{APPLICATION_NAME}-{os.getpid()}",
        "autocommit": True,
    }
    return lambda: psycopg.connect(*arguments, **options)


def listen_for_changes(app: Flask) -> ChangeListener | None:
    """Starts this process's listener, on PostgreSQL unless turned off; call it in the
    process that serves (a gunicorn worker, after the fork), never before a fork."""
    config = config_of(app)
    engine = db.of(app).engine
    if engine.dialect.name != "postgresql" or not config.change_notifications:
        return None
    listener = ChangeListener(
        listener_connection(engine, config.database_timeout), snapshots_of(app)
    )
    app.extensions["gatehouse.change_listener"] = listener
    listener.start()
    return listener

"""Delivering the notices that are due, and trying failed ones again later.

A notice is claimed before it is sent (its ``next_attempt_at`` moved past a lease in one
conditional update), so two gateway processes never send it twice at once. A failure is
recorded on the row (``attempts``, ``last_error``) with the next try backed off
exponentially; after :data:`MAX_ATTEMPTS` the notice stays unsent, its last error kept.
A :class:`Deliverer` thread does this after each commit that wrote notices, and when
the earliest retry is due; ``gatehouse notices deliver`` does it once, for cron.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import NotificationSettings
from gateway.db import UNAVAILABLE, utcnow
from gateway.notifications.channels import DeliveryFailed, deliver
from gateway.notifications.models import Notice

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
#: How long a claimed notice is left to its sender before another may try it.
LEASE = timedelta(minutes=5)
BATCH = 100


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling each time, at most six hours."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


def deliver_due(
    sessions: sessionmaker, settings: NotificationSettings, now: datetime | None = None
) -> DeliveryReport:
    """Sends every notice due at ``now`` (default: now), each in its own transaction."""
    now = now or utcnow()
    report = DeliveryReport()
    with sessions() as session:
        due = session.scalars(
            select(Notice.id)
            .where(
                Notice.sent_at.is_(None),
                Notice.attempts < MAX_ATTEMPTS,
                Notice.next_attempt_at <= now,
            )
            .order_by(Notice.next_attempt_at, Notice.id)
            .limit(BATCH)
        ).all()
    for notice_id in due:
        with sessions() as session:
            notice = _claim(session, notice_id, now)
            if notice is None:
                continue
            _attempt(session, notice, settings, now, report)
    return report


def next_due(sessions: sessionmaker) -> datetime | None:
    """When the earliest unsent notice that will be tried again is due, if any."""
    with sessions() as session:
        return session.scalar(
            select(func.min(Notice.next_attempt_at)).where(
                Notice.sent_at.is_(None), Notice.attempts < MAX_ATTEMPTS
            )
        )


def _claim(session: Session, notice_id: int, now: datetime) -> Notice | None:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.sent_at is not None or notice.next_attempt_at > now:
        return None
    claimed = session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.next_attempt_at == notice.next_attempt_at)
        .values(next_attempt_at=now + LEASE)
    )
    session.commit()
    return notice if claimed.rowcount == 1 else None


def _attempt(
    session: Session,
    notice: Notice,
    settings: NotificationSettings,
    now: datetime,
    report: DeliveryReport,
) -> None:
    notice.attempts += 1
    try:
        deliver(notice, settings)
    except DeliveryFailed as exc:
        notice.last_error = str(exc)
        notice.next_attempt_at = now + retry_delay(notice.attempts)
        report.failed += 1
        logger.warning("notice %s (%s) not delivered: %s", notice.id, notice.channel, exc)
    else:
        notice.sent_at = utcnow()
        notice.last_error = None
        report.sent += 1
    session.commit()


class Deliverer:
    """A background thread delivering notices, woken after each commit that wrote some.

    Started on first use; a request never waits for a delivery.
    """

    def __init__(self, sessions: sessionmaker, settings: NotificationSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="gatehouse-notices", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            pause = self._deliver_and_plan()
            self._wake.wait(pause)

    def _deliver_and_plan(self) -> float | None:
        """Delivers what is due; returns seconds until the next retry (None: none pending)."""
        try:
            deliver_due(self._sessions, self._settings)
            due = next_due(self._sessions)
        except UNAVAILABLE:
            logger.warning("notices: the database cannot be reached; trying again shortly")
            return FIRST_RETRY.total_seconds()
        except Exception:  # the thread must outlive any one bad notice
            logger.exception("notices: delivery failed unexpectedly; trying again shortly")
            return FIRST_RETRY.total_seconds()
        if due is None:
            return None
        return max((due - utcnow()).total_seconds(), 0.0)

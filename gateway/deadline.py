"""A deadline for a whole exchange on a socket, not only for each read.

Socket timeouts bound each read: a peer that sends a byte every second never trips them
and holds a worker for as long as it likes. So each call arms a watch; the connection it
uses registers with it, and one thread per process shuts that connection's socket when
the deadline passes: the blocked read returns at once and the call fails. A vendor's
answer is watched so (``gateway.vendor_connections``), whether the gateway waits for its
status line, headers or body; and so is an app's request body (``gateway.proxy.body``).
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

#: Below this many queued watches, finished ones are not swept out.
SWEEP_MINIMUM = 1024


class Connection(Protocol):
    sock: socket.socket | None


class Watch:
    """One call's deadline and the connection it is using."""

    __slots__ = ("_connection", "_how", "_lock", "deadline", "expired", "finished")

    def __init__(self, deadline: float, how: int = socket.SHUT_RDWR) -> None:
        self.deadline = deadline
        self._how = how
        self.expired = False
        self.finished = False
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def attach(self, connection: Connection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                _cut(connection, self._how)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            if self._connection is not None:
                _cut(self._connection, self._how)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._connection = None  # a pooled connection may serve the next call


_current: contextvars.ContextVar[Watch | None] = contextvars.ContextVar(
    "gatehouse_upstream_watch", default=None
)


def current_watch() -> Watch | None:
    """The watch of the call this thread is making, if any."""
    return _current.get()


class _Watchdog:
    """Expires watches when their deadline passes, from one thread started on first use."""

    def __init__(self) -> None:
        # Finished watches stay queued (expiring them does nothing): removing each when
        # its call ends would cost a heap search per call. The queue is swept instead
        # when it has doubled, which keeps it within twice the calls in flight.
        self._due: list[tuple[float, int, Watch]] = []
        self._sweep_at = SWEEP_MINIMUM
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, watch: Watch) -> None:
        with self._wakeup:
            if len(self._due) >= self._sweep_at:
                self._due = [entry for entry in self._due if not entry[2].finished]
                heapq.heapify(self._due)
                self._sweep_at = max(SWEEP_MINIMUM, 2 * len(self._due))
            heapq.heappush(self._due, (watch.deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():  # not alive: forked
                self._thread = threading.Thread(
                    target=self._run, name="gatehouse-upstream-deadlines", daemon=True
                )
                self._thread.start()
            elif self._due[0][2] is watch:
                self._wakeup.notify()

    def _run(self) -> None:
        with self._wakeup:
            while True:
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    heapq.heappop(self._due)[2].expire()
                self._wakeup.wait(self._due[0][0] - now if self._due else None)


_watchdog = _Watchdog()


@contextmanager
def deadline(seconds: float, how: int = socket.SHUT_RDWR) -> Iterator[Watch]:
    """Within the block, the connection a vendor call uses is cut after ``seconds``
    (``how``: both ways, or only reading, so that an answer can still be sent)."""
    watch = Watch(time.monotonic() + seconds, how)
    _watchdog.arm(watch)
    token = _current.set(watch)
    try:
        yield watch
    finally:
        _current.reset(token)
        watch.finish()


def _cut(connection: Connection, how: int) -> None:
    sock = connection.sock
    if not isinstance(sock, socket.socket):
        return
    # The plain socket's shutdown, also under TLS: this thread must not talk TLS on a
    # connection another thread is reading. An OSError: it is closed already.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, how)

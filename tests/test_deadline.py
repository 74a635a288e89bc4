"""The whole-answer deadline, on real sockets: a blocked read is cut when it passes."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from gateway import deadline as deadline_module
from gateway.deadline import SWEEP_MINIMUM, current_watch, deadline


@dataclass
class Connection:
    sock: socket.socket | None


def test_a_read_blocked_past_the_deadline_returns_at_once():
    ours, theirs = socket.socketpair()
    with ours, theirs, deadline(0.3) as watch:
        current_watch().attach(Connection(ours))
        started = time.monotonic()
        received = ours.recv(1)  # the other end never sends

    assert received == b""
    assert 0.25 < time.monotonic() - started < 1.5
    assert watch.expired


def test_a_call_that_ends_in_time_is_left_alone():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        with deadline(0.2) as watch:
            current_watch().attach(Connection(ours))
        time.sleep(0.4)
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x", "a pooled connection outlives the call"
    assert not watch.expired
    assert current_watch() is None


def test_finished_watches_do_not_pile_up():
    for _ in range(SWEEP_MINIMUM * 5):
        with deadline(60):
            pass
    assert len(deadline_module._watchdog._due) <= 2 * SWEEP_MINIMUM

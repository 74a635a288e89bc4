"""Loopback ports for the servers the tests start as processes of their own.

A port found by binding port 0 and closing the socket is free only for a moment: the
kernel may hand it to another xdist worker's probe before the first server binds it.
The second server then fails to bind, and its readiness check finds the first one — a
call meant for one test reaches another test's server. So each worker takes ports in
turn from a slice of its own below the kernel's ephemeral range (which port 0 and
outgoing connections draw from), skipping any that something holds.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from gateway.demo import port_is_free

#: The lowest port handed out; below it are the well-known and registered services.
LOWEST = 10_000


def _ephemeral_low() -> int:
    ports = Path("/proc/sys/net/ipv4/ip_local_port_range")
    return int(ports.read_text().split()[0]) if ports.exists() else 32_768


def _slice() -> range:
    """This worker's ports: the range below the ephemeral ports cut in one slice per worker."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    # A machine whose ephemeral ports start low still gets slices, overlapping them.
    size = max(_ephemeral_low() - LOWEST, 1000 * workers) // max(workers, 1)
    return range(LOWEST + worker * size, LOWEST + (worker + 1) * size)


def _in_turn() -> itertools.cycle:
    ports = _slice()
    # Started where the process id says, so two runs on one machine rarely walk together.
    start = os.getpid() % len(ports)
    return itertools.cycle([*ports[start:], *ports[:start]])


_ports = _in_turn()


def free_port() -> int:
    """A loopback port no other worker of this run hands out, free when asked."""
    return next(port for port in _ports if port_is_free(port))

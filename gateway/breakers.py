"""A circuit breaker per tool: a vendor that keeps failing is left alone for a while.

While a tool's vendor answers, its breaker is closed. After ``GATEHOUSE_BREAKER_FAILURES``
calls in a row failed — no connection, a timeout, a malformed answer, a 5xx (after any
retries); not a 4xx or a 429, which are answers about the call, not failures of the
vendor — it opens: for ``GATEHOUSE_BREAKER_OPEN_SECONDS`` every call to the tool is
refused at once with 503 ``circuit-open``, saying why and when it will try again, and
nothing is forwarded. Then it half-opens: the next call goes through as a probe while
the others are still refused; the first outcome then reported closes the breaker (the
vendor answered) or opens it again. A probe whose outcome does not come within another
open period (its call was refused later on its way, or is that slow) is given up, and
the next call probes: at most one probe per period, however probes are lost.

Breakers live in each process, as is usual (Envoy, resilience4j): no shared store sits
on the call path or can fail it, and each worker learns of a dead vendor after a few
failures of its own. Under gunicorn each worker has its own; a vendor that fails is
refused by each worker after at most that many failures there.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum

from gateway.errors import Problem
from gateway.metrics import observe_breaker_refused, observe_breaker_state
from gateway.upstream import UpstreamFailure, UpstreamResponse

#: Failure kinds (``gateway.upstream.failure_kind``) that say the vendor is unwell. A
#: refused address and a too large answer say nothing of its health.
VENDOR_FAILURES = frozenset({"timeout", "connection", "tls", "bad-response"})
#: How many of the latest failures a refusal names.
FAILURES_SHOWN = 3
#: ``Retry-After`` of a call refused while a probe is out: probes are usually quick.
PROBE_RETRY_AFTER = 1


class State(IntEnum):
    """A breaker's state; the value is that of the ``gatehouse_breaker_state`` gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass
class _Breaker:
    state: State = State.CLOSED
    #: Failed calls in a row.
    failures: int = 0
    latest: deque[str] = field(default_factory=lambda: deque(maxlen=FAILURES_SHOWN))
    #: When the next probe may go (monotonic): once open long enough, or once the probe
    #: out is given up.
    until: float = 0.0


class Breakers:
    """Every tool's breaker in this process; ``failures=0`` turns them off."""

    def __init__(self, failures: int, open_seconds: float) -> None:
        self._threshold = failures
        self._open_seconds = open_seconds
        self._breakers: dict[str, _Breaker] = {}
        self._lock = threading.Lock()

    def admit(self, tool: str) -> None:
        """Returns if a call to ``tool`` may be forwarded; raises the refusal if not."""
        if not self._threshold:
            return
        breaker = self._breakers.get(tool) or self._first(tool)
        if breaker.state is State.CLOSED:  # read without the lock: the usual case
            return
        with self._lock:
            problem = self._refusal(tool, breaker, time.monotonic())
        if problem is not None:
            observe_breaker_refused(tool)
            raise problem

    def observe(self, tool: str, outcome: UpstreamResponse | UpstreamFailure) -> None:
        """What became of a call that was forwarded to ``tool``."""
        breaker = self._breakers.get(tool)
        if breaker is None:  # breakers are off: admit made none
            return
        failure = _failure(outcome)
        if failure is None and breaker.state is State.CLOSED and not breaker.failures:
            return
        with self._lock:
            if failure is None:
                self._succeeded(tool, breaker)
            else:
                self._failed(tool, breaker, failure)

    def _first(self, tool: str) -> _Breaker:
        with self._lock:
            breaker = self._breakers.get(tool)
            if breaker is None:
                breaker = self._breakers[tool] = _Breaker()
                observe_breaker_state(tool, State.CLOSED.label, State.CLOSED, moved=False)
        return breaker

    def _refusal(self, tool: str, breaker: _Breaker, now: float) -> Problem | None:
        if breaker.state is State.CLOSED:
            return None
        if now >= breaker.until:  # open long enough, or the probe out is given up
            if breaker.state is State.OPEN:
                self._move(tool, breaker, State.HALF_OPEN)
            breaker.until = now + self._open_seconds
            return None  # this call is the probe
        if breaker.state is State.HALF_OPEN:
            return _refused(tool, "a call is checking whether it is back", PROBE_RETRY_AFTER)
        wait = breaker.until - now
        again = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        why = (
            f"its last {breaker.failures} calls failed (latest: {', '.join(breaker.latest)}); "
            f"the gateway will try it again at {again}"
        )
        return _refused(tool, why, math.ceil(wait))

    def _succeeded(self, tool: str, breaker: _Breaker) -> None:
        if breaker.state is State.OPEN:
            return  # a call let through before it opened
        breaker.failures = 0
        breaker.latest.clear()
        if breaker.state is State.HALF_OPEN:
            self._move(tool, breaker, State.CLOSED)

    def _failed(self, tool: str, breaker: _Breaker, failure: str) -> None:
        if breaker.state is State.OPEN:
            return
        breaker.failures += 1
        breaker.latest.append(failure)
        if breaker.state is State.HALF_OPEN or breaker.failures >= self._threshold:
            self._move(tool, breaker, State.OPEN)
            breaker.until = time.monotonic() + self._open_seconds

    @staticmethod
    def _move(tool: str, breaker: _Breaker, state: State) -> None:
        breaker.state = state
        observe_breaker_state(tool, state.label, state, moved=True)


def _failure(outcome: UpstreamResponse | UpstreamFailure) -> str | None:
    """How the call failed the breaker's way, in a few words; None if it did not."""
    if isinstance(outcome, UpstreamFailure):
        return outcome.kind if outcome.kind in VENDOR_FAILURES else None
    return f"HTTP {outcome.status}" if outcome.status >= 500 else None


def _refused(tool: str, why: str, retry_after: int) -> Problem:
    message = f"tool {tool!r} is not called for now: {why}"
    return Problem(
        503,
        "circuit-open",
        "Tool unavailable",
        message,
        reasons=[{"rule": "circuit_breaker", "message": message}],
        headers={"Retry-After": str(max(retry_after, 1))},
    )

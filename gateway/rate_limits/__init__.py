"""Rate limits and quotas at the proxy: each app's and each department's (from their
grant), each tool's, and the vendor's quota; and the pause a vendor asks for with its own
429, honoured for every app.

Counters live in Redis when ``GATEHOUSE_REDIS_URL`` is set, shared by every instance and
worker, else in this process's memory (``gateway.rate_limits.store``). Each limit is a
moving window (the ``limits`` library); taking a slot is one atomic step in Redis, so
instances sharing it allow exactly N calls for a limit of N.

A call is first checked against every limit that applies, without counting it, and refused
if any is used up: a call refused by its department's limit spends nothing of its app's.
Then it takes a slot of each limit in turn. Only when two calls race for the last slot of
a later limit can the loser have spent a slot of an earlier one; this errs towards
refusing, never past N. When the store is unreachable, each tool fails open (calls go on,
logged and counted) or closed (503), as IT chose for it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask
from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

from catalog.rate_limit_terms import spelled
from catalog.snapshot import CatalogSnapshot, ToolView
from gateway.errors import Problem
from gateway.metrics import observe_limit_store_error, observe_rate_limited, observe_vendor_pause
from gateway.rate_limits.fields import limit_fields, seconds_until, vendor_pause
from gateway.rate_limits.store import StoreOutage, counter_store

if TYPE_CHECKING:  # the proxy imports this module
    from gateway.proxy.caller import Caller

logger = logging.getLogger(__name__)

#: How each kind of limit is named in a refusal.
WHOSE = {
    "app": "this app's limit",
    "department": "the department's limit",
    "tool": "the tool's limit for all apps",
    "vendor_quota": "the vendor's quota",
}


@dataclass(frozen=True)
class Counter:
    """One limit that applies to a call, and the identifiers it is counted under."""

    kind: str
    item: RateLimitItem
    key: tuple[str, ...]


class RateLimits:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self.outage = StoreOutage()

    @classmethod
    def attach(cls, app: Flask) -> RateLimits:
        return cls(counter_store(app.extensions["gatehouse.config"].redis_url))

    def admit(self, caller: Caller, tool: ToolView, catalog: CatalogSnapshot) -> dict[str, str]:
        """Takes a slot of every limit on this call, or raises a 429 :class:`Problem` (or a
        503 if the store is down and the tool fails closed). Returns the ``RateLimit``
        fields of the tightest limit, for the answer."""
        counters = applicable(caller, tool, catalog)
        try:
            with self.outage.watched():
                self._refuse_if_paused(caller, tool)
                if not counters:
                    return {}
                windows = [self.limiter.get_window_stats(c.item, *c.key) for c in counters]
                self._take_slots(caller, tool, counters, windows)
        except StorageError as exc:
            return self._store_unavailable(tool, exc)
        tightest, stats = min(zip(counters, windows, strict=True), key=_left)
        return limit_fields(tightest.kind, tightest.item, stats.remaining - 1, stats.reset_time)

    def _take_slots(
        self, caller: Caller, tool: ToolView, counters: list[Counter], windows: list[WindowStats]
    ) -> None:
        used_up = [(c, w) for c, w in zip(counters, windows, strict=True) if w.remaining < 1]
        if used_up:
            raise _over(caller, tool, *max(used_up, key=lambda pair: pair[1].reset_time))
        for counter in counters:
            if not self.limiter.hit(counter.item, *counter.key):  # lost a race for it
                stats = self.limiter.get_window_stats(counter.item, *counter.key)
                raise _over(caller, tool, counter, stats)

    def vendor_answered(self, tool: ToolView, status: int, headers: list[tuple[str, str]]):
        """A vendor's 429 pauses the tool for every app, for as long as it asked."""
        if status != 429:
            return
        wait = vendor_pause(headers)
        key = _pause_key(tool)
        try:
            with self.outage.watched():
                if self.storage.get(key) and self.storage.get_expiry(key) >= time.time() + wait:
                    return  # paused for longer already
                self.storage.clear(key)
                self.storage.incr(key, wait)
        except StorageError as exc:
            logger.warning("cannot pause tool %s after its 429: %s", tool.slug, exc)
            observe_limit_store_error(tool.slug, "pause-lost")
            return
        observe_vendor_pause(tool.slug)
        logger.info("tool %s paused for %s s: its vendor answered 429", tool.slug, wait)

    def _refuse_if_paused(self, caller: Caller, tool: ToolView) -> None:
        key = _pause_key(tool)
        if not self.storage.get(key):
            return
        wait = seconds_until(self.storage.get_expiry(key))
        observe_rate_limited(tool.slug, caller.client.department, "vendor_pause")
        raise _refusal(
            "vendor-rate-limited",
            "Vendor asked to slow down",
            "vendor_rate_limit",
            f"the vendor of tool {tool.slug!r} answered 429 (too many requests); the gateway "
            f"holds every app's calls to it for {wait} s, as the vendor asked",
            headers={"Retry-After": str(wait)},
            extra={"retry_after": wait},
        )

    def _store_unavailable(self, tool: ToolView, exc: StorageError) -> dict[str, str]:
        outcome = tool.limits.on_store_outage
        observe_limit_store_error(tool.slug, outcome)
        logger.warning("rate limits of tool %s not counted (store unreachable: %s)", tool.slug, exc)
        if outcome == "open":
            return {}
        raise Problem(
            503,
            "rate-limits-unavailable",
            "Rate limits unavailable",
            f"the store of the rate limits is unreachable and tool {tool.slug!r} is set to "
            "refuse its calls then (fail closed); nothing was forwarded, try again later",
            headers={"Retry-After": "5"},
        )


def applicable(caller: Caller, tool: ToolView, catalog: CatalogSnapshot) -> list[Counter]:
    """The limits on this app's call to this tool, each with what it is counted under."""
    app, department = caller.client.client_id, caller.client.department
    grant = catalog.limits_of_grant(department, tool.slug)
    return [
        *(Counter("app", item, ("app", tool.slug, app)) for item in grant.per_app),
        *(
            Counter("department", i, ("department", tool.slug, department))
            for i in grant.per_department
        ),
        *(Counter("tool", item, ("tool", tool.slug)) for item in tool.limits.rate_limits),
        *(
            Counter("vendor_quota", item, ("vendor", tool.slug))
            for item in tool.limits.vendor_quota
        ),
    ]


def _over(caller: Caller, tool: ToolView, counter: Counter, stats: WindowStats) -> Problem:
    observe_rate_limited(tool.slug, caller.client.department, counter.kind)
    wait = seconds_until(stats.reset_time)
    rate = spelled(counter.item)
    fields = limit_fields(counter.kind, counter.item, 0, stats.reset_time)
    return _refusal(
        "rate-limited",
        "Rate limit reached",
        "rate_limit",
        f"{WHOSE[counter.kind]} on tool {tool.slug!r} is used up ({rate}); a call may be "
        f"made again in {wait} s",
        headers={"Retry-After": str(wait), **fields},
        extra={"limit": {"kind": counter.kind, "rate": rate}, "retry_after": wait},
    )


def _refusal(slug: str, title: str, rule: str, detail: str, headers: dict, extra: dict):
    """A 429 whose reason names the rule, as the proxy's refusals do."""
    reasons = [{"rule": rule, "message": detail}]
    return Problem(429, slug, title, detail, reasons=reasons, headers=headers, extra=extra)


def _left(pair: tuple[Counter, WindowStats]) -> tuple[int, float]:
    return pair[1].remaining, -pair[1].reset_time


def _pause_key(tool: ToolView) -> str:
    return f"gatehouse/vendor-pause/{tool.slug}"

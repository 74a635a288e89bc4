"""Throttling failed sign-ins, per account and per client address, so passwords cannot be
guessed at speed.

Failures are counted in a moving window (the ``limits`` library) in Redis when
``GATEHOUSE_REDIS_URL`` is set, shared by every instance, else in this process's memory.
While Redis cannot be reached, each instance counts in its own memory: guessing stays
throttled (per instance) and IT can still sign in, rather than every sign-in failing; a
Redis that hangs is not waited for again for a few seconds (``gateway.rate_limits.store``).
Once either count is used up, further attempts are refused before the password is even
looked at, until the oldest failure leaves the window. Accounts are keyed by a hash of the
e-mail address, so the store holds no address in clear.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from gateway.identity.accounts import normalised_email
from gateway.rate_limits.store import StoreOutage, counter_store

log = logging.getLogger(__name__)

_EXTENSION = "gatehouse.sign_in_throttle"


class TooManyAttempts(Exception):
    """Sign-in refused for now; ``retry_after`` seconds until the next attempt may count."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignInThrottle:
    limiter: MovingWindowRateLimiter
    account_limit: RateLimitItem
    address_limit: RateLimitItem
    #: Where failures are counted while ``limiter``'s store cannot be reached.
    fallback: MovingWindowRateLimiter
    outage: StoreOutage

    def check(self, email: str, address: str) -> None:
        """Raises :class:`TooManyAttempts` if this account or address used up its failures."""
        waits = [
            self._wait(limit, key)
            for limit, key in self._counters(email, address)
            if not self._use("test", limit, key)
        ]
        if waits:
            raise TooManyAttempts(max(waits))

    def failed(self, email: str, address: str) -> None:
        for limit, key in self._counters(email, address):
            self._use("hit", limit, key)

    def succeeded(self, email: str) -> None:
        """The account's own failures are forgiven; its address's are not."""
        self._use("clear", self.account_limit, _account_key(email))

    def _use(self, method: str, *args):
        """``limiter.<method>(*args)``, on the fallback while the store is unreachable."""
        try:
            with self.outage.watched():
                return getattr(self.limiter, method)(*args)
        except StorageError as exc:
            log.warning("sign-in throttle: Redis unreachable, counting in this process (%s)", exc)
            return getattr(self.fallback, method)(*args)

    def _counters(self, email: str, address: str):
        return (
            (self.account_limit, _account_key(email)),
            (self.address_limit, f"sign-in:address:{address}"),
        )

    def _wait(self, limit: RateLimitItem, key: str) -> int:
        reset_at = self._use("get_window_stats", limit, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def _account_key(email: str) -> str:
    return "sign-in:account:" + hashlib.sha256(normalised_email(email).encode()).hexdigest()


def sign_in_throttle() -> SignInThrottle:
    return current_app.extensions[_EXTENSION]


def init_app(app: Flask) -> None:
    config = app.extensions["gatehouse.config"]
    limiter = MovingWindowRateLimiter(counter_store(config.redis_url))
    # In memory already, the limiter never finds its store unreachable.
    fallback = limiter if config.redis_url is None else MovingWindowRateLimiter(MemoryStorage())
    app.extensions[_EXTENSION] = SignInThrottle(
        limiter,
        parse(config.sign_in_account_limit),
        parse(config.sign_in_address_limit),
        fallback,
        StoreOutage(),
    )

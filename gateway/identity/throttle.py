"""Throttling failed sign-ins, per account and per client address, so passwords cannot be
guessed at speed.

Failures are counted in a moving window (the ``limits`` library) in Redis when
``GATEHOUSE_REDIS_URL`` is set, shared by every instance, else in this process's memory.
Once either count is used up, further attempts are refused before the password is even
looked at, until the oldest failure leaves the window. Accounts are keyed by a hash of the
e-mail address, so the store holds no address in clear.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from gateway.identity.accounts import normalised_email

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

    def check(self, email: str, address: str) -> None:
        """Raises :class:`TooManyAttempts` if this account or address used up its failures."""
        waits = [
            self._wait(limit, key)
            for limit, key in self._counters(email, address)
            if not self.limiter.test(limit, key)
        ]
        if waits:
            raise TooManyAttempts(max(waits))

    def failed(self, email: str, address: str) -> None:
        for limit, key in self._counters(email, address):
            self.limiter.hit(limit, key)

    def succeeded(self, email: str) -> None:
        """The account's own failures are forgiven; its address's are not."""
        self.limiter.clear(self.account_limit, _account_key(email))

    def _counters(self, email: str, address: str):
        return (
            (self.account_limit, _account_key(email)),
            (self.address_limit, f"sign-in:address:{address}"),
        )

    def _wait(self, limit: RateLimitItem, key: str) -> int:
        reset_at = self.limiter.get_window_stats(limit, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def _account_key(email: str) -> str:
    return "sign-in:account:" + hashlib.sha256(normalised_email(email).encode()).hexdigest()


def sign_in_throttle() -> SignInThrottle:
    return current_app.extensions[_EXTENSION]


def init_app(app: Flask) -> None:
    config = app.extensions["gatehouse.config"]
    storage = storage_from_string(config.redis_url or "memory://")
    app.extensions[_EXTENSION] = SignInThrottle(
        MovingWindowRateLimiter(storage),
        parse(config.sign_in_account_limit),
        parse(config.sign_in_address_limit),
    )

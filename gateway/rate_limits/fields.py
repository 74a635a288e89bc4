"""The header fields of rate limiting: ``Retry-After`` (RFC 9110) and the IETF draft's
``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers-11), written
for the gateway's own limits; and the vendor's ``Retry-After`` read, in seconds or as a date.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

from limits import RateLimitItem

#: How long a tool is paused after its vendor answered 429 without saying for how long.
DEFAULT_VENDOR_PAUSE = 10
#: The longest pause a vendor's Retry-After may impose (a day: a daily quota used up).
MAX_VENDOR_PAUSE = 86_400


def seconds_until(moment: float) -> int:
    """Whole seconds from now until ``moment``, at least 1 (what Retry-After may say)."""
    return max(1, math.ceil(moment - time.time()))


def limit_fields(policy: str, item: RateLimitItem, remaining: int, reset: float) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` for one limit: its quota and window, what is
    left of it and the seconds until its window frees a slot."""
    return {
        "RateLimit-Policy": f'"{policy}";q={item.amount};w={item.get_expiry()}',
        "RateLimit": f'"{policy}";r={max(0, remaining)};t={_reset(remaining, reset)}',
    }


def _reset(remaining: int, reset: float) -> int:
    return seconds_until(reset) if remaining <= 0 else max(0, math.ceil(reset - time.time()))


def vendor_pause(headers: Iterable[tuple[str, str]]) -> int:
    """Seconds the vendor's 429 asks to wait: its ``Retry-After`` as seconds or an HTTP
    date, else :data:`DEFAULT_VENDOR_PAUSE`; at most :data:`MAX_VENDOR_PAUSE`."""
    given = next((value for name, value in headers if name.lower() == "retry-after"), None)
    wait = _retry_after(given.strip()) if given else None
    return min(MAX_VENDOR_PAUSE, max(1, wait if wait is not None else DEFAULT_VENDOR_PAUSE))


def _retry_after(value: str) -> int | None:
    if value.isdigit():
        return int(value)
    try:
        return math.ceil(parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None

"""Where the counters of rate limits and sign-in throttles live, and how a store that
stops answering is kept from slowing every call.

Redis when ``GATEHOUSE_REDIS_URL`` is set, shared by every instance; else this process's
memory. Redis gets ``STORE_TIMEOUT`` to answer. Once it has failed, :class:`StoreOutage`
does not ask it again for ``RETRY_STORE_AFTER`` seconds: meanwhile its users act at once
as they do when it is down (a tool fails open or closed, sign-ins are counted in memory),
so a Redis that hangs costs each process one wait every few seconds, not a wait per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from limits.errors import StorageError
from limits.storage import Storage, storage_from_string

#: Seconds to wait for Redis before the store counts as unreachable.
STORE_TIMEOUT = 0.5
#: Seconds after a failure before the store is asked again.
RETRY_STORE_AFTER = 5.0


def counter_store(redis_url: str | None) -> Storage:
    """Redis, given ``STORE_TIMEOUT`` to answer, its failures raised as ``StorageError``;
    else this process's memory."""
    if redis_url is None:
        return storage_from_string("memory://", wrap_exceptions=True)
    options = {"socket_timeout": STORE_TIMEOUT, "socket_connect_timeout": STORE_TIMEOUT}
    return storage_from_string(redis_url, wrap_exceptions=True, **options)


class StoreOutage:
    """Remembers when the store last failed, to skip it for ``retry_after`` seconds."""

    def __init__(
        self, retry_after: float = RETRY_STORE_AFTER, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._retry_after = retry_after
        self._clock = clock
        self._skip_until = float("-inf")  # one float, set whole: threads need no lock

    @contextmanager
    def watched(self) -> Iterator[None]:
        """Runs the block that uses the store, unless it failed less than ``retry_after``
        ago: then raises ``StorageError`` at once. A ``StorageError`` from the block
        starts such a period."""
        if self._clock() < self._skip_until:
            raise StorageError(ConnectionError("the store failed moments ago; not asked yet"))
        try:
            yield
        except StorageError:
            self._skip_until = self._clock() + self._retry_after
            raise

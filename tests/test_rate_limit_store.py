"""StoreOutage: after the store fails, it is not asked again until the retry period ends;
then the first call that finds it answering ends the outage. A fake clock stands in for
time."""

from __future__ import annotations

import pytest
from limits.errors import StorageError

from gateway.rate_limits.store import StoreOutage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def use(outage: StoreOutage, store_fails: bool, asked: list[int]) -> None:
    with outage.watched():
        asked.append(1)
        if store_fails:
            raise StorageError(ConnectionError("Timeout reading from the store"))


def test_a_failed_store_is_skipped_until_the_retry_period_ends():
    clock, asked = Clock(), []
    outage = StoreOutage(retry_after=5.0, clock=clock)
    with pytest.raises(StorageError):
        use(outage, store_fails=True, asked=asked)

    clock.now += 4.9
    with pytest.raises(StorageError, match="not asked yet"):
        use(outage, store_fails=False, asked=asked)
    assert len(asked) == 1

    clock.now += 0.2
    use(outage, store_fails=False, asked=asked)  # asked again, and it answers
    use(outage, store_fails=False, asked=asked)
    assert len(asked) == 3


def test_a_store_failing_again_starts_a_new_period():
    clock, asked = Clock(), []
    outage = StoreOutage(retry_after=5.0, clock=clock)
    with pytest.raises(StorageError):
        use(outage, store_fails=True, asked=asked)
    clock.now += 5.0
    with pytest.raises(StorageError):
        use(outage, store_fails=True, asked=asked)
    clock.now += 4.0
    with pytest.raises(StorageError, match="not asked yet"):
        use(outage, store_fails=False, asked=asked)
    assert len(asked) == 2


def test_errors_that_are_not_the_stores_pass_through_and_start_nothing():
    outage, asked = StoreOutage(), []
    with pytest.raises(ValueError), outage.watched():
        raise ValueError("a 429 decided inside the block")
    use(outage, store_fails=False, asked=asked)
    assert asked == [1]

"""A real redis-server of a test's own on a free loopback port, for what instances share."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.ports import free_port


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The URL of a fresh, empty redis-server, stopped after the test."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for(redis.Redis.from_url(url))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for(client: redis.Redis, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

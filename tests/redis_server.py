"""A real redis-server of a test's own on a free loopback port, for what instances share;
and a Redis that hangs, taking connections and never answering."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

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


@dataclass
class HungRedis:
    """A loopback port that takes connections and never answers on them."""

    url: str
    connections: list[socket.socket] = field(default_factory=list)


@pytest.fixture
def hung_redis() -> Iterator[HungRedis]:
    listener = socket.create_server(("127.0.0.1", free_port()))
    hung = HungRedis(f"redis://127.0.0.1:{listener.getsockname()[1]}/0")

    def take() -> None:
        with contextlib.suppress(OSError):  # the listener closed
            while True:
                hung.connections.append(listener.accept()[0])

    threading.Thread(target=take, daemon=True).start()
    yield hung
    listener.close()
    for connection in hung.connections:
        connection.close()

"""With ``GATEHOUSE_REDIS_URL`` set, failed sign-ins are counted in Redis, so every
instance of the gateway throttles the same account (a real redis-server on loopback)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from gateway.app import create_app
from tests.conftest import close
from tests.people import csrf_token, make_user

PASSWORD = "correct horse battery"


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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


def _sign_in(app, password: str, address: str) -> int:
    client = app.test_client()
    answer = client.post(
        "/portal/sign-in",
        data={"csrf_token": csrf_token(client), "email": "ada@example.com", "password": password},
        environ_base={"REMOTE_ADDR": address},
    )
    return answer.status_code


def test_failures_on_one_instance_throttle_the_account_on_another(config, redis_url):
    first = create_app(config.with_overrides(redis_url=redis_url))
    second = create_app(config.with_overrides(redis_url=redis_url))
    try:
        make_user(first, "ada@example.com", "marketer", ("growth",), PASSWORD)
        for attempt in range(5):
            assert _sign_in(first, "guess", f"10.0.6.{attempt}") == 401
        assert _sign_in(second, PASSWORD, "10.0.6.99") == 429
        keys = redis.Redis.from_url(redis_url).keys("*")
        assert keys and not any(b"ada@example.com" in key for key in keys)
    finally:
        close(first)
        close(second)

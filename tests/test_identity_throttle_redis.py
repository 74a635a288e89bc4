"""With ``GATEHOUSE_REDIS_URL`` set, failed sign-ins are counted in Redis, so every
instance of the gateway throttles the same account (a real redis-server on loopback).
While Redis is unreachable or hangs, they are counted in the instance's memory."""

from __future__ import annotations

import redis

from gateway.app import create_app
from tests.conftest import close
from tests.people import csrf_token, make_user
from tests.ports import free_port

PASSWORD = "correct horse battery"


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


def test_with_redis_unreachable_sign_in_works_and_guessing_is_still_throttled(config, caplog):
    """Nothing listens at the Redis address: no sign-in fails with a 500; failures are
    counted in the instance's memory meanwhile."""
    app = create_app(config.with_overrides(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    try:
        make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
        assert _sign_in(app, PASSWORD, "10.0.7.1") == 302
        for attempt in range(5):
            assert _sign_in(app, "guess", f"10.0.7.{attempt}") == 401
        assert _sign_in(app, PASSWORD, "10.0.7.99") == 429
        assert "Redis unreachable" in caplog.text
    finally:
        close(app)


def test_with_redis_hanging_it_is_waited_for_once_then_not_asked_for_a_while(config, hung_redis):
    app = create_app(config.with_overrides(redis_url=hung_redis.url))
    try:
        make_user(app, "ada@example.com", "marketer", ("growth",), PASSWORD)
        assert _sign_in(app, PASSWORD, "10.0.8.1") == 302
        for attempt in range(5):
            assert _sign_in(app, "guess", f"10.0.8.{attempt}") == 401
        assert _sign_in(app, PASSWORD, "10.0.8.99") == 429  # counted in memory meanwhile
        assert len(hung_redis.connections) == 1
    finally:
        close(app)

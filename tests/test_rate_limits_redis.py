"""Rate limits shared through a real redis-server: two gateways count one limit, a vendor's
429 seen by one holds the tool on the other, and when Redis stops mid-test each tool
fails open (calls go on, counted) or closed (503), as IT chose. A Redis that hangs is
waited for once, then not asked for a while."""

from __future__ import annotations

import pytest
import redis
import requests
from prometheus_client import REGISTRY

from catalog.models import Tool
from gateway.app import create_app
from gateway.db import db
from tests.conftest import SANDBOX_MAILCHIMP_KEY, apply, close, serve
from tests.test_rate_limits import limited_catalog, ping, setup


@pytest.fixture
def pair(config, redis_url, sandbox):
    """Two gateways (in this process) counting in one Redis."""
    shared = config.with_overrides(redis_url=redis_url)
    apps = [create_app(shared) for _ in range(2)]
    servers = [serve(app) for app in apps]
    yield apps, [server.url for server in servers]
    for app, server in zip(apps, servers, strict=True):
        server.stop()
        close(app)


def store_errors(tool: str, outcome: str) -> float:
    labels = {"tool": tool, "outcome": outcome}
    return REGISTRY.get_sample_value("gatehouse_rate_limit_store_errors_total", labels) or 0


def test_two_gateways_count_one_limit_and_share_a_vendors_pause(pair, sandbox):
    (first, _), (one, other) = pair
    tokens = setup(first, one, sandbox, {"per_app": "3/minute"})
    token = tokens["newsletter-app"]
    statuses = [ping(url, token).status_code for url in (one, other, one, other)]
    assert statuses == [200, 200, 200, 429]

    fault = {"vendor": "mailchimp", "status": 429, "times": 1, "retry_after": 30}
    requests.post(f"{sandbox}/_sandbox/faults", json=fault, timeout=10)
    assert ping(one, tokens["second-app"]).status_code == 429  # the vendor's own
    held = ping(other, tokens["second-app"])
    assert held.json()["type"].endswith("/vendor-rate-limited")
    assert 28 <= int(held.headers["Retry-After"]) <= 30


@pytest.mark.parametrize("outcome", ["open", "closed"])
def test_when_redis_stops_a_tool_fails_as_it_was_told(pair, sandbox, redis_url, outcome):
    (first, _), (one, _) = pair
    tokens = setup(first, one, sandbox, {"per_app": "100/minute"}, limits_on_store_outage=outcome)
    assert ping(one, tokens["newsletter-app"]).status_code == 200
    before = store_errors("mailchimp", outcome)

    redis.Redis.from_url(redis_url).shutdown(nosave=True)
    answer = ping(one, tokens["newsletter-app"])
    if outcome == "open":
        assert answer.status_code == 200
        assert "RateLimit" not in answer.headers
    else:
        assert answer.status_code == 503
        problem = answer.json()
        assert problem["type"].endswith("/rate-limits-unavailable")
        assert answer.headers["Retry-After"] == "5"
        assert answer.headers["Gatehouse-Decision"] == "deny"
    assert store_errors("mailchimp", outcome) == before + 1


def test_the_outage_default_is_open(app, sandbox):
    apply(app, limited_catalog(sandbox), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    with app.app_context():
        assert db.session.query(Tool).one().limits_on_store_outage == "open"


@pytest.mark.parametrize("outcome", ["open", "closed"])
def test_a_redis_that_hangs_is_waited_for_once_then_not_asked_for_a_while(
    config, sandbox, hung_redis, outcome
):
    app = create_app(config.with_overrides(redis_url=hung_redis.url))
    live = serve(app)
    try:
        limits = {"per_app": "100/minute"}
        tokens = setup(app, live.url, sandbox, limits, limits_on_store_outage=outcome)
        before = store_errors("mailchimp", outcome)
        statuses = [ping(live.url, tokens["newsletter-app"]).status_code for _ in range(5)]
        assert statuses == [200 if outcome == "open" else 503] * 5
        assert store_errors("mailchimp", outcome) == before + 5
        # Only the first call waited for it; the others did not ask (RETRY_STORE_AFTER).
        assert len(hung_redis.connections) == 1
    finally:
        live.stop()
        close(app)

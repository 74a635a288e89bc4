"""Acceptance: two real ``gatehouse serve`` instances (two workers each) on different
ports, sharing the database and a redis-server, allow exactly N calls in total for an
app's limit of N, however the concurrent calls fall on them; every other call is a 429
with Retry-After and the RateLimit fields, recorded in the exchange log."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from connectors.sandbox import create_sandbox_app
from gateway.audit.models import ExchangeRecord
from gateway.db import db
from tests.conftest import SANDBOX_MAILCHIMP_KEY, apply, get_token, serve
from tests.instances import instance_environment, start_instance
from tests.test_rate_limits import PING, STATE, limited_catalog

LIMIT = 7
CALLS = 40


def test_an_apps_limit_of_n_allows_n_calls_across_two_instances(app, config, redis_url, tmp_path):
    sandbox = serve(create_sandbox_app())
    report = apply(
        app,
        limited_catalog(sandbox.url, {"per_app": f"{LIMIT}/hour"}),
        {"MC_KEY": SANDBOX_MAILCHIMP_KEY},
    )
    environment = instance_environment(
        config, GATEHOUSE_REDIS_URL=redis_url, GATEHOUSE_UPSTREAM_RETRIES="0"
    )
    instances = []
    try:
        for name in ("a", "b"):
            instances.append(start_instance(environment, tmp_path / f"{name}.log"))
        token = get_token(instances[0].url, report.new_clients[0])
        urls = [instances[n % 2].url + PING for n in range(CALLS)]

        def call(url: str) -> requests.Response:
            return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, urls))
    finally:
        for instance in instances:
            instance.stop()
        sandbox.stop()

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: LIMIT, 429: CALLS - LIMIT}
    for answer in answers:
        assert answer.headers["RateLimit-Policy"] == f'"app";q={LIMIT};w=3600'
        assert STATE.match(answer.headers["RateLimit"]).group(1) == "app"
        if answer.status_code == 429:
            assert answer.json()["limit"] == {"kind": "app", "rate": f"{LIMIT}/hour"}
            assert 1 <= int(answer.headers["Retry-After"]) <= 3600
            assert STATE.match(answer.headers["RateLimit"]).group(2) == "0"
    with app.app_context():
        logged = dict(
            db.session.execute(
                select(ExchangeRecord.status, func.count()).group_by(ExchangeRecord.status)
            ).all()
        )
    assert logged == {200: LIMIT, 429: CALLS - LIMIT}

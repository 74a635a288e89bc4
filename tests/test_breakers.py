"""A tool's circuit breaker opens after failures in a row, refuses without forwarding,
half-opens to let one probe through, and closes or opens again on what the probe found.

The vendor is the sandbox failing on command (``/_sandbox/faults``); whether a call
reached it is read from ``/_sandbox/requests``. The breaker opens after 3 failures for
1 s; calls are not retried, so each failure is one call.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from gateway.db import db
from tests.conftest import GATEHOUSE, SANDBOX_MAILCHIMP_KEY, apply, demo_document, get_token
from tests.ports import free_port
from tests.test_proxy import assert_problem, records
from tests.test_readme import wait_until_serving
from tests.test_retries import PING, fail, received

FAILURES = 3
OPEN_SECONDS = 1.0
STATES = {"closed": 0, "half-open": 1, "open": 2}


@pytest.fixture
def config(config):
    return config.with_overrides(
        breaker_failures=FAILURES, breaker_open_seconds=OPEN_SECONDS, upstream_retries=0
    )


@pytest.fixture
def headers(app, gateway, sandbox) -> dict:
    report = apply(app, demo_document(sandbox), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    return {"Authorization": f"Bearer {get_token(gateway, report.new_clients[0])}"}


def ping(gateway: str, headers: dict) -> requests.Response:
    return requests.get(gateway + PING, headers=headers, timeout=30)


def recover(sandbox: str) -> None:
    assert requests.delete(f"{sandbox}/_sandbox/faults", timeout=10).status_code == 204


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"tool": "mailchimp", **labels}) or 0.0


def transitions() -> dict[str, float]:
    return {
        state: metric("gatehouse_breaker_transitions_total", state=state)
        for state in ("open", "half-open", "closed")
    }


def open_breaker(gateway: str, sandbox: str, headers: dict) -> None:
    fail(sandbox, 503, times=FAILURES)
    assert [ping(gateway, headers).status_code for _ in range(FAILURES)] == [503] * FAILURES


def test_failures_in_a_row_open_the_breaker_which_refuses_without_forwarding(
    app, gateway, sandbox, headers
):
    refused_before, moved_before = metric("gatehouse_breaker_refused_total"), transitions()
    fail(sandbox, 503, times=FAILURES + 5)
    for _ in range(FAILURES):
        response = ping(gateway, headers)
        assert response.status_code == 503
        assert response.json()["title"] == "Service Unavailable"  # the vendor's own answer
    assert metric("gatehouse_breaker_state") == STATES["open"]

    refused = ping(gateway, headers)
    body = assert_problem(refused, 503, "circuit-open")
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Gatehouse-Decision"] == "deny"
    assert "its last 3 calls failed (latest: HTTP 503, HTTP 503, HTTP 503)" in body["detail"]
    assert "will try it again at 20" in body["detail"]  # a UTC time
    assert body["reasons"] == [{"rule": "circuit_breaker", "message": body["detail"]}]
    assert len(received(sandbox)) == FAILURES  # the refused call never left

    record = records(app)[-1]
    assert (record.decision, record.status, record.error) == ("deny", 503, "circuit-open")
    assert record.upstream_status is None
    assert record.reasons[0]["rule"] == "circuit_breaker"
    assert metric("gatehouse_breaker_refused_total") == refused_before + 1
    assert transitions()["open"] == moved_before["open"] + 1


def test_after_the_open_period_one_probe_goes_through_and_success_closes_it(
    app, gateway, sandbox, headers
):
    moved_before = transitions()
    open_breaker(gateway, sandbox, headers)
    assert_problem(ping(gateway, headers), 503, "circuit-open")
    recover(sandbox)
    time.sleep(OPEN_SECONDS)
    assert ping(gateway, headers).status_code == 200  # the probe
    assert metric("gatehouse_breaker_state") == STATES["closed"]
    assert ping(gateway, headers).status_code == 200
    assert len(received(sandbox)) == FAILURES + 2
    moved = {state: count - moved_before[state] for state, count in transitions().items()}
    assert moved == {"open": 1, "half-open": 1, "closed": 1}


def test_a_probe_that_fails_opens_it_again(app, gateway, sandbox, headers):
    open_breaker(gateway, sandbox, headers)
    time.sleep(OPEN_SECONDS)
    fail(sandbox, 503, times=1)
    assert ping(gateway, headers).status_code == 503  # the probe, failed by the vendor
    assert metric("gatehouse_breaker_state") == STATES["open"]
    body = assert_problem(ping(gateway, headers), 503, "circuit-open")
    assert "its last 4 calls failed" in body["detail"]
    assert len(received(sandbox)) == FAILURES + 1


def test_while_the_probe_is_out_every_other_call_is_refused(app, gateway, sandbox, headers):
    open_breaker(gateway, sandbox, headers)
    fail(sandbox, 503, times=1, delay=2.0)  # a slow probe
    time.sleep(OPEN_SECONDS)
    probe: list[requests.Response] = []
    thread = threading.Thread(target=lambda: probe.append(ping(gateway, headers)))
    thread.start()
    until_half_open = time.monotonic() + 1.5
    while metric("gatehouse_breaker_state") != STATES["half-open"]:
        assert time.monotonic() < until_half_open, "the probe never went out"
        time.sleep(0.02)
    body = assert_problem(ping(gateway, headers), 503, "circuit-open")
    assert "a call is checking whether it is back" in body["detail"]
    thread.join()
    assert probe[0].status_code == 503
    assert len(received(sandbox)) == FAILURES + 1


def test_a_probe_whose_outcome_never_comes_is_given_up_after_another_period(
    app, gateway, sandbox, headers
):
    open_breaker(gateway, sandbox, headers)
    recover(sandbox)
    time.sleep(OPEN_SECONDS)
    with app.app_context():  # the probe is admitted, then cannot be recorded
        db.session.execute(text("ALTER TABLE exchanges RENAME TO exchanges_away"))
        db.session.commit()
    try:
        assert_problem(ping(gateway, headers), 503, "audit-unavailable")
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE exchanges_away RENAME TO exchanges"))
            db.session.commit()
    body = assert_problem(ping(gateway, headers), 503, "circuit-open")
    assert "a call is checking whether it is back" in body["detail"]
    time.sleep(OPEN_SECONDS)
    assert ping(gateway, headers).status_code == 200  # the next probe
    assert metric("gatehouse_breaker_state") == STATES["closed"]
    assert len(received(sandbox)) == FAILURES + 1


@pytest.mark.parametrize("upstream_read_timeout", [1.0])
def test_timeouts_count_as_failures(app, gateway, sandbox, headers):
    fail(sandbox, 503, times=FAILURES, delay=1.2)  # past the read timeout of 1 s
    for _ in range(FAILURES):
        assert_problem(ping(gateway, headers), 504, "upstream-timeout")
    body = assert_problem(ping(gateway, headers), 503, "circuit-open")
    assert "(latest: timeout, timeout, timeout)" in body["detail"]


def test_answers_about_the_call_and_a_success_between_failures_keep_it_closed(
    app, gateway, sandbox, headers
):
    fail(sandbox, 400, times=FAILURES + 1)
    assert [ping(gateway, headers).status_code for _ in range(FAILURES + 1)] == [400] * 4
    fail(sandbox, 429, times=1, retry_after=1)  # the vendor's 429 pauses the tool: no failure
    assert ping(gateway, headers).status_code == 429
    time.sleep(1.1)  # the pause ends
    fail(sandbox, 503, times=FAILURES - 1)
    statuses = [ping(gateway, headers).status_code for _ in range(FAILURES)]
    fail(sandbox, 503, times=FAILURES - 1)
    statuses += [ping(gateway, headers).status_code for _ in range(FAILURES)]
    assert statuses == [503, 503, 200] * 2
    assert metric("gatehouse_breaker_state") == STATES["closed"]
    assert len(received(sandbox)) == FAILURES + 2 + 2 * FAILURES


def scraped(url: str, name: str) -> dict[tuple, float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_served_gateway_shows_its_breakers_in_metrics(app, sandbox, cli_env, tmp_path):
    """Through ``gatehouse serve`` (metrics in multiprocess mode), one worker."""
    report = apply(app, demo_document(sandbox), {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    port = free_port()
    environment = {
        **cli_env,
        "MC_KEY": SANDBOX_MAILCHIMP_KEY,
        "GATEHOUSE_BREAKER_FAILURES": "2",
        "GATEHOUSE_BREAKER_OPEN_SECONDS": "30",
        "GATEHOUSE_UPSTREAM_RETRIES": "0",
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [GATEHOUSE, "serve", "--port", str(port), "--workers", "1", "--threads", "4"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/healthz", process)
        headers = {"Authorization": f"Bearer {get_token(url, report.new_clients[0])}"}
        assert ping(url, headers).status_code == 200
        assert scraped(url, "gatehouse_breaker_state") == {(("tool", "mailchimp"),): 0.0}
        fail(sandbox, 503, times=2)
        assert [ping(url, headers).status_code for _ in range(2)] == [503, 503]
        refused = ping(url, headers)
        assert_problem(refused, 503, "circuit-open")
        assert 29 <= int(refused.headers["Retry-After"]) <= 30
        assert scraped(url, "gatehouse_breaker_state") == {(("tool", "mailchimp"),): 2.0}
        assert scraped(url, "gatehouse_breaker_refused_total") == {(("tool", "mailchimp"),): 1.0}
        assert scraped(url, "gatehouse_breaker_transitions_total") == {
            (("state", "open"), ("tool", "mailchimp")): 1.0
        }
        assert len(received(sandbox)) == 3
    finally:
        process.terminate()
        process.wait(timeout=20)

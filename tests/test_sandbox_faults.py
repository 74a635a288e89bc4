"""The sandbox fails on command: what retries, breakers and vendor quotas are tested with."""

from __future__ import annotations

from base64 import b64encode

import pytest

from connectors.sandbox import create_sandbox_app
from connectors.sandbox.vendors.mailchimp import CREDENTIALS as MAILCHIMP

PING = "/mailchimp/3.0/ping"


@pytest.fixture
def sandbox():
    return create_sandbox_app().test_client()


def auth() -> dict:
    token = b64encode(f"any:{MAILCHIMP['api_key']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_a_fault_answers_the_next_requests_then_the_vendor_answers_again(sandbox):
    fault = {"vendor": "mailchimp", "status": 429, "times": 2, "retry_after": 7}
    armed = sandbox.post("/_sandbox/faults", json=fault)
    assert armed.status_code == 201
    for _ in range(2):
        failed = sandbox.get(PING, headers=auth())
        assert failed.status_code == 429
        assert failed.headers["Retry-After"] == "7"
    assert sandbox.get(PING, headers=auth()).status_code == 200
    assert sandbox.get("/_sandbox/faults").get_json() == []


def test_a_fault_without_times_lasts_until_cleared_and_touches_only_its_vendor(sandbox):
    sandbox.post("/_sandbox/faults", json={"vendor": "mailchimp", "status": 503})
    assert [sandbox.get(PING, headers=auth()).status_code for _ in range(3)] == [503] * 3
    assert sandbox.get("/hubspot/crm/v3/objects/contacts").status_code != 503
    assert len(sandbox.get("/_sandbox/requests?vendor=mailchimp").get_json()) == 3
    assert sandbox.delete("/_sandbox/faults").status_code == 204
    assert sandbox.get(PING, headers=auth()).status_code == 200


@pytest.mark.parametrize(
    "given",
    [
        None,
        {"status": 503},
        {"vendor": "mailchimp", "status": 200},
        {"vendor": "mailchimp", "status": "503"},
        {"vendor": "mailchimp", "status": 503, "times": 0},
        {"vendor": "mailchimp", "status": 503, "retry_after": -1},
        {"vendor": "mailchimp", "status": 503, "delay": 61},
        {"vendor": "mailchimp", "status": 503, "colour": "red"},
    ],
)
def test_a_fault_that_makes_no_sense_is_refused(sandbox, given):
    answer = sandbox.post("/_sandbox/faults", json=given)
    assert answer.status_code == 400
    assert answer.get_json()["error"]
    assert sandbox.get("/_sandbox/faults").get_json() == []

"""Rate limits at the proxy, through a real gateway and the sandbox vendor: each app's and
each department's limits from their grant, the tool's own limit and the vendor's quota,
the 429 an app gets (problem, Retry-After, RateLimit fields), the exchange log and the
metrics; and a vendor's own 429 holding the tool's calls for every app."""

from __future__ import annotations

import re
import time

import pytest
import requests
import yaml
from prometheus_client import REGISTRY
from sqlalchemy import select

from catalog.declarative import CatalogError, export_document
from catalog.models import Tool
from gateway.audit.models import ExchangeRecord
from gateway.db import db
from tests.conftest import (
    SANDBOX_MAILCHIMP_KEY,
    apply,
    demo_document,
    get_token,
    register_test_app,
    sandbox_requests,
)
from tests.people import csrf_token, make_user, signed_in

PING = "/proxy/mailchimp/ping"
POLICY = re.compile(r'^"(\w+)";q=(\d+);w=(\d+)$')
STATE = re.compile(r'^"(\w+)";r=(\d+);t=(\d+)$')


def limited_catalog(sandbox: str, grant_limits=None, **tool_limits) -> dict:
    document = demo_document(sandbox)
    document["tools"][0].update(tool_limits)
    if grant_limits is not None:
        document["grants"][0]["limits"] = grant_limits
    return document


def setup(app, gateway, sandbox, grant_limits=None, apps=("second-app",), **tool_limits):
    """The demo catalog with these limits; tokens of the demo app and of ``apps`` (also of
    the growth department)."""
    document = limited_catalog(sandbox, grant_limits, **tool_limits)
    report = apply(app, document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    tokens = {"newsletter-app": get_token(gateway, report.new_clients[0])}
    for name in apps:
        tokens[name] = get_token(gateway, register_test_app(app, name, ["proxy"]))
    return tokens


def ping(gateway: str, token: str) -> requests.Response:
    return requests.get(gateway + PING, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def rate_limited(tool: str, department: str, limit: str) -> float:
    labels = {"tool": tool, "department": department, "limit": limit}
    return REGISTRY.get_sample_value("gatehouse_rate_limited_total", labels) or 0


def test_an_app_over_its_limit_gets_429_with_retry_after_and_ratelimit_fields(
    app, gateway, sandbox
):
    tokens = setup(app, gateway, sandbox, {"per_app": "2/minute"})
    before = rate_limited("mailchimp", "growth", "app")
    first, second = ping(gateway, tokens["newsletter-app"]), ping(gateway, tokens["newsletter-app"])
    assert first.status_code == second.status_code == 200
    assert first.headers["RateLimit-Policy"] == '"app";q=2;w=60'
    assert STATE.match(first.headers["RateLimit"]).group(1, 2) == ("app", "1")
    assert STATE.match(second.headers["RateLimit"]).group(1, 2) == ("app", "0")

    refused = ping(gateway, tokens["newsletter-app"])
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["Gatehouse-Decision"] == "deny"
    problem = refused.json()
    assert problem["type"].endswith("/rate-limited")
    assert problem["limit"] == {"kind": "app", "rate": "2/minute"}
    assert "this app's limit" in problem["detail"] and "2/minute" in problem["detail"]
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 60 and problem["retry_after"] == wait
    assert POLICY.match(refused.headers["RateLimit-Policy"]).groups() == ("app", "2", "60")
    name, remaining, reset = STATE.match(refused.headers["RateLimit"]).groups()
    assert (name, remaining, int(reset)) == ("app", "0", wait)

    # another app of the department has its own allowance
    assert ping(gateway, tokens["second-app"]).status_code == 200
    assert len(sandbox_requests(sandbox)) == 3  # the refused call never left
    assert rate_limited("mailchimp", "growth", "app") == before + 1
    with app.app_context():
        refusal = db.session.scalars(
            select(ExchangeRecord).where(ExchangeRecord.status == 429)
        ).one()
    assert (refusal.decision, refusal.error, refusal.tool) == ("deny", "rate-limited", "mailchimp")


def test_a_call_refused_by_the_department_limit_spends_none_of_the_apps(app, gateway, sandbox):
    tokens = setup(app, gateway, sandbox, {"per_app": "2/minute", "per_department": "2/minute"})
    assert ping(gateway, tokens["second-app"]).status_code == 200
    assert ping(gateway, tokens["second-app"]).status_code == 200
    refused = ping(gateway, tokens["newsletter-app"])
    assert refused.status_code == 429
    assert refused.json()["limit"] == {"kind": "department", "rate": "2/minute"}
    assert "the department's limit" in refused.json()["detail"]
    assert refused.headers["RateLimit-Policy"] == '"department";q=2;w=60'
    limits = app.extensions["gatehouse.proxy"].limits
    with app.app_context():
        client_id = db.session.execute(
            select(ExchangeRecord.client_id).where(ExchangeRecord.status == 429)
        ).scalar_one()
    catalog = app.extensions["gatehouse.snapshots"].get("catalog")
    app_limit = catalog.limits_of_grant("growth", "mailchimp").per_app[0]
    stats = limits.limiter.get_window_stats(app_limit, "app", "mailchimp", client_id)
    assert stats.remaining == 2


def test_the_tools_limit_and_the_vendors_monthly_quota_count_every_app(app, gateway, sandbox):
    tokens = setup(app, gateway, sandbox, rate_limits=["100/second"], vendor_quota="3/month")
    answers = [ping(gateway, tokens[name]) for name in ["newsletter-app", "second-app"] * 2]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"vendor_quota";q=3;w=2592000'
    problem = answers[3].json()
    assert problem["limit"] == {"kind": "vendor_quota", "rate": "3/month"}
    assert "the vendor's quota" in problem["detail"]
    assert 2_591_000 < int(answers[3].headers["Retry-After"]) <= 2_592_000


def test_the_tightest_limit_is_the_one_told(app, gateway, sandbox):
    tokens = setup(
        app, gateway, sandbox, {"per_app": ["5/second", "2/hour"]}, rate_limits="50/minute"
    )
    answer = ping(gateway, tokens["newsletter-app"])
    assert answer.headers["RateLimit-Policy"] == '"app";q=2;w=3600'
    assert STATE.match(answer.headers["RateLimit"]).group(2) == "1"


def test_a_tool_without_limits_answers_without_ratelimit_fields(app, gateway, sandbox):
    tokens = setup(app, gateway, sandbox)
    answer = ping(gateway, tokens["newsletter-app"])
    assert answer.status_code == 200 and "RateLimit" not in answer.headers


def test_a_vendors_429_holds_the_tools_calls_for_every_app_until_its_retry_after(
    app, gateway, sandbox
):
    tokens = setup(app, gateway, sandbox)
    fault = {"vendor": "mailchimp", "status": 429, "times": 1, "retry_after": 2}
    assert requests.post(f"{sandbox}/_sandbox/faults", json=fault, timeout=10).status_code == 201
    before = rate_limited("mailchimp", "growth", "vendor_pause")

    vendors_own = ping(gateway, tokens["newsletter-app"])
    assert vendors_own.status_code == 429  # the vendor's answer, passed on
    assert vendors_own.headers["Gatehouse-Decision"] == "allow"
    assert vendors_own.headers["Retry-After"] == "2"

    held = ping(gateway, tokens["second-app"])
    assert held.status_code == 429
    assert held.json()["type"].endswith("/vendor-rate-limited")
    assert 1 <= int(held.headers["Retry-After"]) <= 2
    assert len(sandbox_requests(sandbox)) == 1  # held at the gateway, not forwarded
    assert rate_limited("mailchimp", "growth", "vendor_pause") == before + 1

    time.sleep(2.2)
    assert ping(gateway, tokens["second-app"]).status_code == 200
    assert len(sandbox_requests(sandbox)) == 2


# -- IT sets the limits: apply, API, portal, each refusing a limit that is not one --------


def test_apply_refuses_a_limit_that_is_not_one_and_exports_what_it_applied(app, sandbox):
    wrong = limited_catalog(sandbox, {"per_app": "100/fortnight"})
    with pytest.raises(CatalogError, match=r"/grants/0/limits/per_app"):
        apply(app, wrong, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    parsed_only = limited_catalog(sandbox, vendor_quota=["0/day"])
    with pytest.raises(CatalogError, match=r"/tools/0/vendor_quota: '0/day' allows no call"):
        apply(app, parsed_only, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})

    right = limited_catalog(
        sandbox,
        {"per_app": "100/minute", "per_department": ["10000/day", "1000 per hour"]},
        rate_limits="50/second",
        vendor_quota=["500000/month", "10/second"],
        limits_on_store_outage="closed",
    )
    apply(app, right, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    again = apply(app, right, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    assert again.changes == []  # one spelling: applying twice changes nothing
    with app.app_context():
        exported = export_document(db.session)
    tool, grant = exported["tools"][0], exported["grants"][0]
    assert tool["rate_limits"] == ["50/second"]
    assert tool["vendor_quota"] == ["10/second", "500000/month"]
    assert tool["limits_on_store_outage"] == "closed"
    assert grant["limits"] == {
        "per_app": ["100/minute"],
        "per_department": ["1000/hour", "10000/day"],
    }


def test_the_cli_apply_says_which_limit_is_wrong(cli, tmp_path):
    document = limited_catalog("http://127.0.0.1:9", {"per_department": "lots/hour"})
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document))
    done = cli("apply", str(path))
    assert done.returncode != 0
    assert "/grants/0/limits/per_department" in done.stderr
    assert "'lots/hour' is not a rate limit: write calls per unit" in done.stderr


def test_the_api_sets_limits_on_grants_and_tools_and_refuses_wrong_ones(app, gateway, sandbox):
    setup(app, gateway, sandbox, apps=())
    token = get_token(gateway, register_test_app(app, "it-bot", ["reviews:write", "catalog:read"]))
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{gateway}/api/v1"
    terms = {"purposes": ["marketing.communications"], "limits": {"per_app": "x/minute"}}
    bad = requests.put(f"{api}/grants/growth/mailchimp", json=terms, headers=headers, timeout=10)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/limits/per_app"
    assert "'x/minute' is not a rate limit" in bad.json()["errors"][0]["message"]
    terms["limits"] = {"per_app": ["100/minute"], "per_department": "1000/hour, 10000/day"}
    put = requests.put(f"{api}/grants/growth/mailchimp", json=terms, headers=headers, timeout=10)
    assert put.status_code == 200, put.text
    assert put.json()["limits"] == {
        "per_app": ["100/minute"],
        "per_department": ["1000/hour", "10000/day"],
    }

    change = {"vendor_quota": ["10/second", "nope"], "limits_on_store_outage": "closed"}
    refused = requests.patch(f"{api}/tools/mailchimp", json=change, headers=headers, timeout=10)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/vendor_quota"
    change["vendor_quota"] = ["10/second", "1000/month"]
    patched = requests.patch(f"{api}/tools/mailchimp", json=change, headers=headers, timeout=10)
    assert patched.status_code == 200, patched.text
    tool = patched.json()
    assert tool["vendor_quota"] == ["10/second", "1000/month"]
    assert tool["limits_on_store_outage"] == "closed"
    assert tool["grants"][0]["limits"]["per_app"] == ["100/minute"]
    ajar = requests.patch(
        f"{api}/tools/mailchimp",
        json={"limits_on_store_outage": "ajar"},
        headers=headers,
        timeout=10,
    )
    assert ajar.status_code == 422


def test_the_portal_edits_a_tools_limits_and_shows_a_wrong_one_next_to_its_field(app, sandbox):
    setup_document = limited_catalog(sandbox, {"per_app": "100/minute"})
    apply(app, setup_document, {"MC_KEY": SANDBOX_MAILCHIMP_KEY})
    reviewer = signed_in(app, make_user(app, "it@example.com", "it_reviewer", ("growth",)))
    form = reviewer.get("/portal/tools/mailchimp/edit").get_data(as_text=True)
    assert 'name="rate_limits"' in form and 'name="limits_on_store_outage"' in form
    typed = {
        "csrf_token": csrf_token(reviewer),
        "name": "Mailchimp",
        "rate_limits": "50/second, 10/fortnight",
        "vendor_quota": "500000/month",
        "limits_on_store_outage": "closed",
    }
    refused = reviewer.post("/portal/tools/mailchimp/edit", data=typed)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="rate_limits-error"' in html and "10/fortnight" in html
    assert 'value="500000/month"' in html
    saved = reviewer.post(
        "/portal/tools/mailchimp/edit", data={**typed, "rate_limits": "50/second"}
    )
    assert saved.status_code == 302
    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "mailchimp"))
        assert (tool.rate_limits, tool.vendor_quota, tool.limits_on_store_outage) == (
            ["50/second"],
            ["500000/month"],
            "closed",
        )
    shown = reviewer.get("/portal/tools/mailchimp").get_data(as_text=True)
    assert "50/second" in shown and "500000/month" in shown and "each app: 100/minute" in shown

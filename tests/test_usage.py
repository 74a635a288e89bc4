"""Usage reports: a seeded month of traffic, written through the exchange log's writer,
reported by the CLI and the API, every figure checked against counts computed here
from the exchange log itself; then the housekeeping lists and the bad inputs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from pyroaring import BitMap
from sqlalchemy import func, select

from catalog.usage_models import (
    LATENCY_BOUNDS_MS,
    UsagePeople,
    UsagePersonId,
    person_number,
)
from gateway.audit.log import ExchangeDraft, Result
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.audit.retention import prune
from gateway.audit.usage_refresh import _Deltas, _fold_completions, refresh_usage
from gateway.db import db
from gateway.identity.roles import Role
from gateway.usage_commands import report_group
from gateway.vault import vault_of
from policies.decision import Decision, Reason, Verdict
from tests.conftest import apply, get_token, register_test_app, settled
from tests.people import make_user, signed_in
from tests.test_catalog_api import call, tokens  # noqa: F401 (fixture)

MONTH_START = date(2026, 10, 1)
DAYS = 31
TOOLS = ("mailchimp", "hubspot", "klaviyo", None)
DEPARTMENTS = ("growth", "brand", None)
APPS = ("app-news", "app-crm", "app-ads", None)
CATEGORIES = ("user.contact.email", "user.name", "user.contact.phone_number", "user.demographic")
RULES = ("consent.missing", "grant.category", "grant.purpose", "transfer.basis")
#: Subject keys as the gateway makes them: hex HMAC-SHA256 digests.
PEOPLE = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(1, 41)]
SINCE, UNTIL = "2026-10-03", "2026-10-28"


def _draft(rng: random.Random, number: int, first_day: date) -> ExchangeDraft:
    started = datetime.combine(first_day, datetime.min.time(), UTC) + timedelta(
        days=rng.randrange(DAYS), seconds=rng.randrange(86_400)
    )
    keys = sorted(rng.sample(PEOPLE, rng.randrange(0, 5)))
    categories = sorted(rng.sample(CATEGORIES, rng.randrange(0, 4)))
    return ExchangeDraft(
        request_id=f"usage-{number}",
        method="POST",
        path="/proxy/x/y",
        started_at=started,
        client_id=rng.choice(APPS),
        department=rng.choice(DEPARTMENTS),
        tool=rng.choice(TOOLS),
        data_categories=categories,
        subject_count=len(keys) + rng.randrange(0, 2),  # some without a usable key
        subject_keys=keys,
        bytes_in=rng.randrange(0, 5000),
    )


def _result(rng: random.Random) -> Result:
    latency = round(rng.lognormvariate(4, 1.2), 3)
    kind = rng.random()
    if kind < 0.1:  # the vendor never answered
        return Result(status=504, latency_ms=latency, error="upstream-timeout")
    status = 503 if kind < 0.2 else rng.choice((200, 201, 400, 404))
    return Result(
        status=status,
        latency_ms=latency,
        upstream_status=status,
        upstream_latency_ms=latency / 2,
        bytes_out=rng.randrange(0, 20_000),
    )


def seed(
    app,
    rng: random.Random,
    first: int,
    count: int,
    pending: list[int],
    first_day: date = MONTH_START,
) -> None:
    """Writes ``count`` exchanges through the log's writer, as the proxy does: refusals
    in one write, the others opened then mostly completed; some stay pending."""
    log = app.extensions["gatehouse.proxy"].log
    for number in range(first, first + count):
        draft, roll = _draft(rng, number, first_day), rng.random()
        if roll < 0.25:
            rules = rng.sample(RULES, rng.randrange(1, 3))
            decision = Decision(Verdict.DENY, tuple(Reason(rule, "no") for rule in rules))
            log.record_refused(draft, decision, Result(status=403, latency_ms=1.5, error="x"))
            continue
        decision = Decision(Verdict.ALLOW)
        if roll < 0.45 and draft.subject_keys:
            dropped = draft.subject_keys[:1]
            draft.dropped_subject_keys = dropped
            draft.subject_keys = draft.subject_keys[1:]
            draft.categories_stripped = draft.data_categories[:1]
            decision = Decision(Verdict.REDACT, dropped_subjects=tuple(dropped))
        seq = log.open(draft, decision)
        if rng.random() < 0.15:
            pending.append(seq)
        else:
            log.complete(seq, _result(rng))
    settled(app)


def complete_some(app, rng: random.Random, pending: list[int]) -> None:
    log = app.extensions["gatehouse.proxy"].log
    for seq in pending[: len(pending) // 2]:
        log.complete(seq, _result(rng))
    settled(app)


# -- what the report must say, computed from the log itself --------------------------


def expected(app, since: str, until: str, by: str) -> dict:
    first, last = date.fromisoformat(since), date.fromisoformat(until)
    with app.app_context():
        records = db.session.scalars(select(ExchangeRecord)).all()
        subjects = db.session.execute(select(ExchangeSubject)).scalars().all()
    of_record = defaultdict(list)
    for subject in subjects:
        of_record[subject.exchange_seq].append(subject)
    rows: dict = defaultdict(lambda: defaultdict(int))
    extras: dict = defaultdict(lambda: {"categories": Counter(), "refusals": Counter(), "ms": []})
    people: dict = defaultdict(set)
    for record in records:
        day = record.started_at.astimezone(UTC).date()
        if not first <= day <= last:
            continue
        for key in (_key(record, day, by), "total"):
            _count(record, of_record[record.seq], rows[key], extras[key], people[key])
    return {
        key: {
            **counts,
            "pending": counts["calls"] - counts["completed"],
            "people": len(people[key]),
            "categories": dict(extras[key]["categories"]),
            "refusals": dict(extras[key]["refusals"]),
            "p50_ms": _percentile(extras[key]["ms"], 50),
            "p95_ms": _percentile(extras[key]["ms"], 95),
        }
        for key, counts in rows.items()
    }


def _key(record: ExchangeRecord, day: date, by: str) -> str | None:
    if by == "day":
        return day.isoformat()
    return {"tool": record.tool, "department": record.department, "app": record.client_id}[by]


def _count(record, subjects, counts, extra, people) -> None:
    counts["calls"] += 1
    forwarded = record.decision in ("allow", "redact")
    counts[{"allow": "allowed", "redact": "redacted", "deny": "denied"}[record.decision]] += 1
    if forwarded:
        dropped = sum(1 for subject in subjects if subject.dropped)
        counts["records_sent"] += record.subject_count - dropped
        counts["bytes_in"] += record.bytes_in
        people.update(subject.subject_key for subject in subjects if not subject.dropped)
        extra["categories"].update(set(record.data_categories) - set(record.categories_stripped))
    else:
        extra["refusals"].update({reason["rule"] for reason in record.reasons})
    if record.outcome_seq is not None:
        counts["completed"] += 1
        counts["bytes_out"] += record.bytes_out or 0
        extra["ms"].append(record.latency_ms)
        failed = (
            record.upstream_status >= 500
            if record.upstream_status is not None
            else record.error is not None
        )
        counts["vendor_errors"] += forwarded and failed


def _percentile(values: list[float], p: int) -> float | None:
    if not values:
        return None
    value = sorted(values)[math.ceil(p / 100 * len(values)) - 1]
    bound = next((b for b in LATENCY_BOUNDS_MS if value <= b), LATENCY_BOUNDS_MS[-1])
    return float(bound)


def as_reported(row: dict) -> dict:
    figures = {
        name: row[name]
        for name in (
            *("calls", "allowed", "redacted", "denied", "completed", "pending"),
            *("records_sent", "people", "vendor_errors", "bytes_in", "bytes_out"),
            *("categories", "p50_ms", "p95_ms"),
        )
    }
    figures["refusals"] = {item["rule"]: item["calls"] for item in row["top_refusals"]}
    return figures


def as_expected(figures: dict) -> dict:
    kept = {name: value for name, value in figures.items() if value or name == "people"}
    top = sorted(figures["refusals"].items(), key=lambda item: (-item[1], item[0]))[:5]
    return {
        **{name: 0 for name in ("allowed", "redacted", "denied", "records_sent")},
        **{name: 0 for name in ("vendor_errors", "bytes_in", "bytes_out", "completed")},
        **kept,
        "pending": figures["pending"],
        "categories": figures["categories"],
        "refusals": dict(top),
        "p50_ms": figures["p50_ms"],
        "p95_ms": figures["p95_ms"],
    }


def check(report: dict, app, by: str) -> None:
    want = expected(app, SINCE, UNTIL, by)
    got = {row["key"]: as_reported(row) for row in report["rows"]}
    got["total"] = as_reported(report["total"])
    assert got == {key: as_expected(figures) for key, figures in want.items()}
    assert report["total"]["calls"] > 100  # the range holds a real month's mix


# -- the tests ---------------------------------------------------------------------


@pytest.fixture
def reader(app, gateway) -> str:
    make_user(app, "it@example.com", Role.IT_REVIEWER, departments=("growth",))
    return get_token(gateway, register_test_app(app, "usage-reader", ["usage:read"]))


def ask(gateway: str, token: str, path: str, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(f"{gateway}/api/v1{path}", params=params, headers=headers, timeout=30)


def report_by_cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(report_group, ["usage", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_month_of_traffic_is_reported_as_the_log_counts_it(app, gateway, reader):
    rng, pending = random.Random(13), []  # noqa: S311 - reproducible traffic
    seed(app, rng, 0, 300, pending)
    first = ask(gateway, reader, "/usage", since=SINCE, until=UNTIL, by="tool")
    assert first.status_code == 200, first.text
    check(first.json(), app, "tool")
    # More records, and completions of records already folded in, are added, not recounted.
    seed(app, rng, 300, 300, pending)
    complete_some(app, rng, pending)
    for by in ("tool", "app", "day"):
        answer = ask(gateway, reader, "/usage", since=SINCE, until=UNTIL, by=by)
        assert answer.status_code == 200, answer.text
        check(answer.json(), app, by)
    check(
        json.loads(
            report_by_cli(app, "--since", SINCE, "--until", UNTIL, "--by", "department", "--json")
        ),
        app,
        "department",
    )
    rows = list(
        csv.DictReader(io.StringIO(report_by_cli(app, "--since", SINCE, "--until", UNTIL, "--csv")))
    )
    want = expected(app, SINCE, UNTIL, "tool")
    assert {row["key"] or None: int(row["calls"]) for row in rows} == {
        key: figures["calls"] for key, figures in want.items()
    }
    text = report_by_cli(app, "--since", SINCE, "--until", UNTIL, "--by", "department")
    assert f"Usage {SINCE} to {UNTIL}, by department" in text
    assert str(want["total"]["calls"]) in text.splitlines()[-1]


def test_retention_keeps_the_counts_and_forgets_the_people(app, gateway, reader):
    seed(app, random.Random(7), 0, 120, [])  # noqa: S311
    before = ask(gateway, reader, "/usage", since="2026-10-01", until="2026-10-31").json()
    with app.app_context():
        prune(db.session, vault_of(app), datetime(2026, 10, 16, tzinfo=UTC))
        db.session.commit()
        assert db.session.scalar(select(func.min(UsagePeople.day))) >= date(2026, 10, 16)
        # (A clean cut may keep a few records of earlier days: their people go anyway.)
        kept = _people_by_number(app, since=date(2026, 10, 16))
        numbered = db.session.execute(select(UsagePersonId.person, UsagePersonId.last_day))
        numbered = dict(numbered.all())
    # A person's number is kept while a day they were sent on is, and no longer.
    assert numbered == kept
    after = ask(gateway, reader, "/usage", since="2026-10-01", until="2026-10-31").json()
    assert after["total"]["calls"] == before["total"]["calls"]
    assert after["total"]["people"] == len(kept) < before["total"]["people"]


def _people_by_number(app, since: date) -> dict[int, date]:
    """The people the log holds as sent on ``since`` or later, by number, with the last
    day of each."""
    with app.app_context():
        rows = db.session.execute(
            select(ExchangeSubject.subject_key, ExchangeRecord.started_at)
            .join(ExchangeRecord, ExchangeRecord.seq == ExchangeSubject.exchange_seq)
            .where(~ExchangeSubject.dropped, ExchangeRecord.decision.in_(("allow", "redact")))
        ).all()
    last: dict[int, date] = {}
    for key, started in rows:
        number, day = person_number(key), started.astimezone(UTC).date()
        if day < since:
            continue
        last[number] = max(day, last.get(number, day))
    return last


def test_people_seen_again_join_their_day_bitmap(app):
    """Refreshes merge the people they fold in with the day's stored bitmap: one row
    per day, tool, department and app, one number per person, each person once."""
    log = app.extensions["gatehouse.proxy"].log
    morning = datetime(2026, 10, 5, 8, tzinfo=UTC)

    def send(number: int, *people: int) -> None:
        draft = ExchangeDraft(
            request_id=f"merge-{number}",
            method="POST",
            path="/x",
            started_at=morning + timedelta(minutes=number),
            client_id="app-news",
            department="growth",
            tool="mailchimp",
            subject_count=len(people),
            subject_keys=[PEOPLE[n] for n in people],
        )
        log.complete(log.open(draft, Decision(Verdict.ALLOW)), Result(status=200, latency_ms=3))
        settled(app)

    def refreshed() -> tuple[BitMap, dict[int, date]]:
        with app.app_context():
            refresh_usage(db.session)
            db.session.commit()
            (stored,) = db.session.scalars(select(UsagePeople.people)).all()
            ids = db.session.execute(select(UsagePersonId.id, UsagePersonId.person)).all()
        return BitMap.deserialize(stored), dict(ids)

    send(1, 0, 1)
    send(2, 1, 2)
    first, ids = refreshed()
    assert len(first) == 3 and set(first) == set(ids)
    send(3, 2, 3)
    send(4, 0, 4)
    second, more = refreshed()
    assert first < second and len(second) == 5
    assert {n: p for n, p in more.items() if n in ids} == ids  # the numbers given stay
    assert sorted(more.values()) == sorted(person_number(PEOPLE[n]) for n in range(5))


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"since": "2026-13-01"}, "since is wrong"),
        ({"since": "2026-10-05", "until": "2026-10-01"}, "must not be after until"),
        ({"by": "colour"}, "by"),
        ({"since": "2000-01-01", "until": "2026-01-01"}, "at most 3660 days before until"),
    ],
)
def test_bad_report_parameters_are_explained(gateway, reader, params, words):
    answer = ask(gateway, reader, "/usage", **params)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert words in json.dumps(answer.json())


def test_usage_needs_its_permission(app, gateway, reader):
    other = get_token(gateway, register_test_app(app, "catalog-reader", ["catalog:read"]))
    assert ask(gateway, other, "/usage").status_code == 403


def test_the_cli_says_what_is_wrong_in_one_line(app):
    result = app.test_cli_runner().invoke(
        report_group, ["usage", "--since", "2026-10-05", "--until", "2026-10-01"]
    )
    assert result.exit_code == 2
    assert "since must not be after until" in result.output
    result = app.test_cli_runner().invoke(report_group, ["usage", "--json", "--csv"])
    assert result.exit_code == 2


def test_housekeeping_lists_idle_tools_grants_apps_and_what_falls_due(app, gateway, reader):
    today = date.today()
    apply(
        app,
        {
            "tools": [
                catalog_tool(
                    "mailchimp",
                    review_due=today + timedelta(days=10),
                    seats=5,
                    contract_volume=1000,
                ),
                catalog_tool("hubspot", review_due=today - timedelta(days=3)),
            ],
            "grants": [
                catalog_grant("growth", "mailchimp", today + timedelta(days=20)),
                catalog_grant("brand", "hubspot", None),
            ],
        },
    )
    busy = register_test_app(app, "busy-app", ["proxy"])
    log = app.extensions["gatehouse.proxy"].log
    draft = ExchangeDraft(
        request_id="hk-1",
        method="POST",
        path="/proxy/mailchimp/x",
        client_id=busy.client_id,
        department="growth",
        tool="mailchimp",
        subject_count=2,
        subject_keys=PEOPLE[:2],
    )
    log.complete(log.open(draft, Decision(Verdict.ALLOW)), Result(status=200, latency_ms=3))
    settled(app)
    answer = ask(gateway, reader, "/usage/housekeeping", days=30)
    assert answer.status_code == 200, answer.text
    lists = answer.json()
    assert [item["label"] for item in lists["unused_tools"]] == ["hubspot"]
    assert [(i["label"], i["department"]) for i in lists["unused_grants"]] == [("hubspot", "brand")]
    assert [item["label"] for item in lists["silent_apps"]] == []  # new apps are not silent
    assert [(i["label"], i["days_left"]) for i in lists["reviews_due"]] == [
        ("hubspot", -3),
        ("mailchimp", 10),
    ]
    assert [(i["label"], i["days_left"]) for i in lists["expiring_grants"]] == [("mailchimp", 20)]
    assert lists["contracts"] == [
        {
            "tool": "mailchimp",
            "seats": 5,
            "active_apps": 1,
            "contract_volume": 1000,
            "people_sent": 2,
            "records_sent": 2,
        }
    ]
    result = app.test_cli_runner().invoke(report_group, ["housekeeping", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "Approved tools without traffic for 30 days: 1" in result.output


def catalog_tool(slug: str, **more) -> dict:
    fields = {
        key: value.isoformat() if isinstance(value, date) else value for key, value in more.items()
    }
    return {
        "slug": slug,
        "name": slug.title(),
        "connector": slug,
        "status": "approved",
        "base_url": "http://127.0.0.1:9/",
        "allow_private_network": True,
        **fields,
    }


def catalog_grant(department: str, tool: str, expires: date | None) -> dict:
    grant = {"department": department, "tool": tool, "purposes": ["marketing.communications.email"]}
    if expires:
        grant["expires"] = expires.isoformat()
    return grant


def test_the_portal_dashboard_and_lists_need_usage_read(app):
    marketer = make_user(app, "mia@example.com", Role.MARKETER, departments=("growth",))
    reviewer = make_user(app, "ian@example.com", Role.IT_REVIEWER)
    assert signed_in(app, marketer).get("/portal/usage").status_code == 403
    client = signed_in(app, reviewer)
    page = client.get("/portal/usage?since=2026-10-05&until=2026-10-01")
    assert page.status_code == 400
    assert "since must not be after until" in page.get_data(as_text=True)
    assert client.get("/portal/usage?since=soon").status_code == 400
    assert client.get("/portal/usage/housekeeping?days=0").status_code == 400
    assert client.get("/portal/usage/housekeeping").status_code == 200


def test_seats_and_contract_volume_are_tool_details(gateway, tokens):  # noqa: F811
    changes = {"seats": 4, "contract_volume": 20000}
    answer = call(gateway, tokens["reviewer-bot"], "PATCH", "/tools/mailchimp", json=changes)
    assert answer.status_code == 200, answer.text
    history = call(gateway, tokens["admin-bot"], "GET", "/history?object_id=mailchimp").json()
    assert history["items"][0]["after"] == changes
    refused = call(gateway, tokens["reviewer-bot"], "PATCH", "/tools/mailchimp", json={"seats": -2})
    assert refused.status_code == 422
    assert "/seats" in [error["pointer"] for error in refused.json()["errors"]]


def test_a_completion_waits_until_its_record_is_folded_in(app):
    """A record written (and completed) after a refresh read the records counts as
    completed only once it counts as a call: the outcome scan stops before it."""
    log = app.extensions["gatehouse.proxy"].log
    drafts = [ExchangeDraft(request_id=f"order-{n}", method="GET", path="/x") for n in (1, 2)]
    first, second = (log.open(draft, Decision(Verdict.ALLOW)) for draft in drafts)
    log.complete(second, Result(status=200, latency_ms=4))
    log.complete(first, Result(status=200, latency_ms=4))
    settled(app)
    with app.app_context():
        deltas = _Deltas()
        assert _fold_completions(db.session, 0, first, deltas) == (0, 0)
        assert refresh_usage(db.session) == (2, 2)
        db.session.commit()
        assert refresh_usage(db.session) == (0, 0)

"""The auditors' pages of the portal: the exchange log with the API's filters and paging,
a record in full, the person report, the record of processing, the withdrawal check,
the trail, the exports and the chain — each answering as the auditor API does and
recorded in the auditors' trail exactly as the API records its queries."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gateway.audit.checkpoints import create_checkpoint
from gateway.audit.queries import AuditQuery, record_query
from gateway.db import db
from gateway.portal.audit_trail import PER_PAGE
from gateway.vault import vault_of
from tests.conftest import grant_consent
from tests.people import make_user, signed_in
from tests.test_audit import logged, tamper  # noqa: F401  (the fixture)
from tests.test_audit_queries import EMAIL, just_before_seq_1

RECORD_LINK = re.compile(r'aria-label="Record (\d+)"')
GENESIS = "0" * 64


@pytest.fixture
def auditor(logged):  # noqa: F811
    """A signed-in auditor (a test client) over the six logged exchanges."""
    return signed_in(logged, make_user(logged, "aude@example.com", "auditor"))


def shown(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return [int(seq) for seq in RECORD_LINK.findall(response.get_data(as_text=True))]


def trail(app) -> list[AuditQuery]:
    with app.app_context():
        queries = db.session.scalars(select(AuditQuery).order_by(AuditQuery.id)).all()
        db.session.expunge_all()
        return queries


def last_entry(app) -> tuple[str, str, dict, int | None]:
    query = trail(app)[-1]
    return query.actor, query.kind, query.parameters, query.result_count


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"decision": "deny"},
        {"rule": "consent"},
        {"email": " Ada@Example.com "},
        {"category": "user.contact"},
        {"purpose": "marketing"},
        {"tool": "mailchimp", "department": "growth"},
        {"tool": "mailchimp", "department": "nobody"},
        {"since": "2000-01-01", "until": "2999-12-31T23:00"},
    ],
)
def test_the_log_finds_what_the_api_finds_and_is_recorded_alike(logged, auditor, params):  # noqa: F811
    api = auditor.get("/api/v1/audit/exchanges", query_string=params)
    assert api.status_code == 200
    api_entry = last_entry(logged)
    portal = shown(auditor.get("/portal/exchanges", query_string=params))
    assert portal == sorted((item["seq"] for item in api.json["items"]), reverse=True)
    assert last_entry(logged) == api_entry


def test_every_filter_of_the_api_is_on_the_form(auditor):
    from gateway.api.audit import FILTERS

    page = auditor.get("/portal/exchanges").get_data(as_text=True)
    for parameter in FILTERS:  # references to the shared parameters the API documents
        assert f'name="{parameter["$ref"].rsplit("/", 1)[1]}"' in page


def test_the_log_pages_newest_first_with_a_cursor(auditor):
    first = auditor.get("/portal/exchanges?limit=4&decision=allow")
    assert shown(first) == [6, 5, 4, 3]
    cursor = re.search(r'cursor=([^&"]+)[^"]*" rel="next"', first.get_data(as_text=True))
    following = auditor.get(f"/portal/exchanges?limit=4&decision=allow&cursor={cursor[1]}")
    assert shown(following) == [1]
    assert 'rel="next"' not in following.get_data(as_text=True)
    # A cursor of the API's (oldest first) is not one of this page's.
    api_cursor = auditor.get("/api/v1/audit/exchanges?limit=1").json["next_cursor"]
    refused = auditor.get(f"/portal/exchanges?cursor={api_cursor}")
    assert refused.status_code == 400
    assert "cursor is not one" in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("since=yesterday-ish&tool=<script>", "not an ISO 8601"),
        ("decision=maybe", "decision must be one of"),
        ("email=a@example.com&phone=%2B4915112345678", "give at most one of"),
        ("limit=0", "limit must be a whole number"),
    ],
)
def test_a_search_that_cannot_be_read_is_said_and_not_recorded(logged, auditor, query, words):  # noqa: F811
    response = auditor.get(f"/portal/exchanges?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert words in page and "<script>" not in page
    assert trail(logged) == []


def test_a_record_in_full(logged, auditor):  # noqa: F811
    grant_consent(logged, EMAIL, "carol@example.com")  # another person's event: not shown
    page = auditor.get("/portal/exchanges/1").get_data(as_text=True)
    with logged.app_context():
        from gateway.audit.models import ExchangeRecord
        from policies.consent import ConsentEvent

        record = db.session.get(ExchangeRecord, 1)
        events = db.session.scalars(
            select(ConsentEvent).where(ConsentEvent.id.in_(record.consent_event_ids))
        ).all()
        second = db.session.get(ExchangeRecord, 2)
    assert record.decision == "allow" and events
    for event in events:
        assert f"<td>{event.id}</td><td><code>{event.purpose}</code></td>" in page
    assert record.record_hash in page and GENESIS in page  # the first link starts the chain
    assert record.outcome_hash in page and record.request_id in page
    for category in record.data_categories:
        assert f"<code>{category}</code>" in page
    assert "ada@example.com" not in page
    assert last_entry(logged)[1:] == ("search", {"seq": 1}, 1)

    refused = auditor.get("/portal/exchanges/2").get_data(as_text=True)
    assert "badge-decision-deny" in refused and "consent" in refused
    assert record.record_hash in refused  # the second record links to the first
    assert second.record_hash in refused
    for missing in ("99", "0", "9" * 25):
        assert auditor.get(f"/portal/exchanges/{missing}").status_code == 404


def test_the_person_report_hashes_the_identifier_as_the_api_does(logged, auditor):  # noqa: F811
    api = auditor.get("/api/v1/audit/people?email=ada@example.com")
    api_entry = last_entry(logged)
    page = auditor.get("/portal/audit/people?email=Ada@Example.com ")
    assert page.status_code == 200
    # The address is in the page's own URL: no other page gets it as a referrer.
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert last_entry(logged) == api_entry
    assert api.json["subject_key"] in text
    assert [r["tool"] for r in api.json["recipients"]] == ["mailchimp"]
    assert "<td>mailchimp</td>" in text and "received" in text
    assert shown(page) == [item["seq"] for item in api.json["exchanges"]]
    assert "example.com" not in str([query.parameters for query in trail(logged)])


def test_the_person_report_without_or_with_two_identifiers(logged, auditor):  # noqa: F811
    empty = auditor.get("/portal/audit/people")
    assert empty.status_code == 200 and trail(logged) == []
    two = auditor.get("/portal/audit/people?email=a@example.com&external_id=42")
    assert two.status_code == 400
    assert "give at most one of" in two.get_data(as_text=True)
    assert trail(logged) == []


def test_the_record_of_processing_as_the_api_answers_it(logged, auditor):  # noqa: F811
    api = auditor.get("/api/v1/audit/processing?since=2000-01-01").json
    api_entry = last_entry(logged)
    page = auditor.get("/portal/audit/processing?since=2000-01-01").get_data(as_text=True)
    assert last_entry(logged) == api_entry
    [activity] = api["activities"]
    assert activity["tool"] == "mailchimp" and f"<code>{activity['tool']}</code>" in page
    assert f"<dt>Calls that sent data</dt><dd>{activity['seen']['exchanges']}</dd>" in page
    assert f"<dt>People</dt><dd>{activity['seen']['people']}</dd>" in page
    default = auditor.get("/portal/audit/processing")
    assert default.status_code == 200
    assert last_entry(logged)[1] == "processing_record"
    assert auditor.get("/portal/audit/processing?since=soon").status_code == 400


def test_the_withdrawal_check_shows_a_violation(logged, auditor):  # noqa: F811
    clean = auditor.get("/portal/audit/withdrawals").get_data(as_text=True)
    assert "No violation." in clean
    grant_consent(
        logged, EMAIL, "ada@example.com", status="withdrawn", occurred_at=just_before_seq_1(logged)
    )
    api_count = len(auditor.get("/api/v1/audit/withdrawals").json["violations"])
    api_entry = last_entry(logged)
    page = auditor.get("/portal/audit/withdrawals").get_data(as_text=True)
    assert last_entry(logged) == api_entry and api_count == 1
    assert "1 violation." in page and shown(auditor.get("/portal/audit/withdrawals")) == [1]
    assert "recorded late" in page
    assert auditor.get("/portal/audit/withdrawals?since=x").status_code == 400


def test_the_trail_lists_every_query_and_is_not_itself_recorded(logged, auditor):  # noqa: F811
    auditor.get("/portal/exchanges?decision=deny")
    auditor.get("/portal/audit/people?email=ada@example.com")
    before = len(trail(logged))
    page = auditor.get("/portal/audit/trail").get_data(as_text=True)
    assert len(trail(logged)) == before == 2
    assert "person report" in page and "decision: <code>deny</code>" in page
    assert "aude@example.com" in page and "ada@example.com" not in page
    searches = auditor.get("/portal/audit/trail?kind=person_report").get_data(as_text=True)
    assert "person report" in searches and "deny" not in searches


def test_an_export_from_the_page_has_its_signed_manifest_listed(logged, auditor):  # noqa: F811
    page = auditor.get("/portal/audit/exports").get_data(as_text=True)
    assert 'action="/api/v1/audit/exchanges/export"' in page and "No export yet." in page
    exported = auditor.get("/api/v1/audit/exchanges/export?format=csv&decision=allow&since=&email=")
    assert exported.status_code == 200
    lines = exported.get_data(as_text=True).splitlines()
    assert len(lines) == 1 + 5  # the header, and the five allowed calls
    manifest_path = exported.headers["Gatehouse-Export-Manifest"]
    listed = auditor.get("/portal/audit/exports").get_data(as_text=True)
    assert f'href="{manifest_path}"' in listed and "signature invalid" not in listed
    manifest = auditor.get(manifest_path).json
    assert manifest["count"] == 5 and manifest["filters"] == {"decision": "allow"}
    assert manifest["sha256"][:16] in listed


def test_the_chain_page_without_and_with_a_checkpoint(logged, auditor):  # noqa: F811
    page = auditor.get("/portal/audit/chain").get_data(as_text=True)
    assert "No checkpoint yet" in page and "No verification recorded yet." in page
    with logged.app_context():
        checkpoint = create_checkpoint(db.session, vault_of(logged))
        db.session.commit()
    page = auditor.get("/portal/audit/chain").get_data(as_text=True)
    assert "Signature valid" in page and checkpoint.record_hash in page
    assert trail(logged) == []  # looking is not a query of the log; verifying is

    checked = auditor.get("/portal/audit/chain?from_seq=1&to_seq=6").get_data(as_text=True)
    assert "Intact." in checked and "6 records, 6 valid" in checked
    _, kind, parameters, count = last_entry(logged)
    assert (kind, count) == ("verify", 6)
    assert parameters == {
        "from_seq": 1,
        "to_seq": 6,
        "checkpoint_seq": checkpoint.seq,
        "records": 6,
        "valid_records": 6,
        "outcomes": parameters["outcomes"],
        "valid_outcomes": parameters["outcomes"],
        "problems": 0,
    }
    assert "<td>1 to 6</td>" in auditor.get("/portal/audit/chain").get_data(as_text=True)


def test_verifying_a_range_finds_an_altered_record(logged, auditor):  # noqa: F811
    tamper(logged, "UPDATE exchanges SET decision = 'allow' WHERE seq = 2")
    page = auditor.get("/portal/audit/chain?from_seq=2&to_seq=").get_data(as_text=True)
    assert "1 problem." in page and "altered</strong>, record 2" in page
    assert last_entry(logged)[2]["problems"] == 1
    intact = auditor.get("/portal/audit/chain?from_seq=3").get_data(as_text=True)
    assert "Intact." in intact


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("from_seq=abc", "is not a record number"),
        ("from_seq=5&to_seq=2", "end after it starts"),
        ("from_seq=1&to_seq=100001", "at most 100,000 records"),
    ],
)
def test_a_range_that_cannot_be_verified_is_said(logged, auditor, query, words):  # noqa: F811
    response = auditor.get(f"/portal/audit/chain?{query}")
    assert response.status_code == 400
    assert words in response.get_data(as_text=True)
    assert trail(logged) == []


def test_the_clis_verification_of_the_whole_log_is_listed(logged, auditor, cli):  # noqa: F811
    assert cli("audit", "verify").returncode == 0
    _, kind, parameters, count = last_entry(logged)
    assert (kind, count) == ("verify", 6)
    assert parameters["from_seq"] is None and parameters["problems"] == 0
    page = auditor.get("/portal/audit/chain").get_data(as_text=True)
    assert "<td>whole log</td>" in page and "cli:" in page


def test_the_trail_pages_back_from_the_newest(logged, auditor):  # noqa: F811
    with logged.app_context():
        for number in range(PER_PAGE + 2):
            record_query(db.session, "cli:tester", "search", {"tool": f"t{number}"}, 0)
        db.session.commit()
    first = auditor.get("/portal/audit/trail").get_data(as_text=True)
    assert f"t{PER_PAGE + 1}</code>" in first and "t1</code>" not in first
    older = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")
    second = auditor.get(older).get_data(as_text=True)
    assert "t1</code>" in second and "t0</code>" in second
    assert f"t{PER_PAGE + 1}</code>" not in second and 'rel="next"' not in second

"""The decision engine as a pure function: each rule's allow and deny, batches, signals."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from policies.decision import Verdict
from policies.engine import decide
from policies.facts import (
    ConsentFact,
    DataFact,
    ExchangeFacts,
    GrantFacts,
    Signals,
    SubjectFact,
    ToolFacts,
)
from policies.policy import PolicyError, load_policy, parse_policy

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = load_policy()
EMAIL = "marketing.communications.email"
TC = {
    f["name"]: f["tc_string"]
    for f in json.loads((Path(__file__).parent / "fixtures/tcf/strings.json").read_text())
}
GRANT = GrantFacts(
    purposes=frozenset({"marketing.communications"}),
    data_categories=frozenset({"user.contact.email", "user.name"}),
    mode="strict",
    expires=None,
)
ADA = SubjectFact("key-ada", "/email_address")
GRANTED = ConsentFact(EMAIL, granted=True, expires_at=None, event_id=7)


def facts(**changes) -> ExchangeFacts:
    """A single-subject e-mail signup to an approved US tool; Ada consented."""
    base = ExchangeFacts(
        client_id="gh_app",
        department="growth",
        tool=ToolFacts("mailchimp", "approved", "US", "dpf", None, iab_vendor_id=None),
        grant=GRANT,
        now=NOW,
        purpose=EMAIL,
        data=(DataFact("/email_address", "user.contact.email"),),
        subjects=(ADA,),
        consents={"key-ada": (GRANTED,)},
    )
    return replace(base, **changes)


def rules(decision) -> list[str]:
    return [reason.rule for reason in decision.reasons]


def test_an_allowed_call_names_the_policy_and_the_consent_it_relied_on():
    decision = decide(facts(), POLICY)
    assert decision.verdict is Verdict.ALLOW
    assert decision.policy_version == POLICY.version and len(POLICY.version) == 64
    assert decision.consent_event_ids == (7,)


@pytest.mark.parametrize("status", ["requested", "under_review", "suspended", "retired"])
def test_only_approved_tools(status):
    tool = ToolFacts("mailchimp", status, "US", "dpf", None)
    assert rules(decide(facts(tool=tool), POLICY)) == ["tool_status"]


def test_overdue_review_denies():
    overdue = ToolFacts("mailchimp", "approved", "US", "dpf", date(2026, 11, 21))
    assert rules(decide(facts(tool=overdue), POLICY)) == ["tool_status"]


def test_grant_must_exist_be_current_and_cover_the_purpose():
    assert rules(decide(facts(grant=None), POLICY)) == ["department_grant"]
    expired = replace(GRANT, expires=date(2026, 11, 21))
    assert "expired on 2026-11-21" in decide(facts(grant=expired), POLICY).reasons[0].message
    other = decide(facts(purpose="marketing.advertising"), POLICY)
    assert rules(other)[0] == "department_grant"
    assert decide(facts(grant=replace(GRANT, purposes=frozenset({"marketing"}))), POLICY).allowed


def test_minimisation_strict_refuses_and_redact_strips():
    data = (
        DataFact("/email_address", "user.contact.email"),
        DataFact("/birthday", "user.demographic.date_of_birth"),
    )
    strict = decide(facts(data=data), POLICY)
    assert rules(strict) == ["minimisation"]
    redacting = decide(facts(data=data, grant=replace(GRANT, mode="redact")), POLICY)
    assert redacting.verdict is Verdict.REDACT
    assert redacting.strip == ("/birthday",)


def test_an_identifier_outside_the_grant_is_never_stripped_away():
    grant = replace(GRANT, mode="redact", data_categories=frozenset({"user.name"}))
    assert decide(facts(grant=grant), POLICY).verdict is Verdict.DENY


def test_a_parent_category_in_the_grant_covers_its_children():
    grant = replace(GRANT, data_categories=frozenset({"user.contact"}))
    data = (
        DataFact("/email_address", "user.contact.email"),
        DataFact("/city", "user.contact.address.city"),
    )
    assert decide(facts(grant=grant, data=data), POLICY).allowed


def test_special_categories_need_to_be_named():
    data = (
        DataFact("/email_address", "user.contact.email"),
        DataFact("/diagnosis", "user.health_and_medical"),
    )
    broad = replace(GRANT, data_categories=frozenset({"user"}))
    assert rules(decide(facts(grant=broad, data=data), POLICY)) == ["special_categories"]
    named = replace(
        GRANT, data_categories=frozenset({"user.contact.email", "user.health_and_medical"})
    )
    assert decide(facts(grant=named, data=data), POLICY).allowed
    redact = replace(broad, mode="redact")
    assert decide(facts(grant=redact, data=data), POLICY).strip == ("/diagnosis",)


@pytest.mark.parametrize(
    ("country", "basis", "allowed"),
    [
        ("DE", None, True),
        ("US", "dpf", True),
        ("US", "none", False),
        ("US", None, False),
        ("JP", "adequacy", True),
        ("BR", "adequacy", False),
        ("BR", "scc", True),
        ("IN", "dpf", False),
        (None, "scc", False),
    ],
)
def test_transfers_outside_the_eea_need_a_valid_basis(country, basis, allowed):
    tool = ToolFacts("mailchimp", "approved", country, basis, None)
    decision = decide(facts(tool=tool), POLICY)
    assert decision.allowed is allowed
    if not allowed:
        assert rules(decision) == ["transfers"]


def test_no_personal_data_needs_no_transfer_basis():
    tool = ToolFacts("mailchimp", "approved", "US", "none", None)
    grant = replace(GRANT, purposes=frozenset({"essential"}))
    ping = facts(tool=tool, grant=grant, data=(), subjects=(), purpose="essential")
    assert decide(ping, POLICY).allowed


@pytest.mark.parametrize(
    ("consents", "message"),
    [
        ({}, "no consent on record"),
        ({"key-ada": (replace(GRANTED, granted=False),)}, "was withdrawn"),
        ({"key-ada": (replace(GRANTED, expires_at=NOW - timedelta(days=1)),)}, "expired on"),
    ],
)
def test_consent_missing_withdrawn_or_expired_denies(consents, message):
    decision = decide(facts(consents=consents), POLICY)
    assert rules(decision) == ["consent"]
    assert message in decision.reasons[0].message


def test_an_unreadable_identifier_denies():
    decision = decide(facts(subjects=(SubjectFact(None, "/email_address"),)), POLICY)
    assert "cannot be read" in decision.reasons[0].message


def test_a_parent_purpose_consent_counts_unless_the_purpose_itself_says_otherwise():
    parent = ConsentFact("marketing", True, None, 3)
    assert decide(facts(consents={"key-ada": (parent,)}), POLICY).consent_event_ids == (3,)
    withdrawn_child = replace(GRANTED, granted=False, event_id=4)
    assert not decide(facts(consents={"key-ada": (parent, withdrawn_child)}), POLICY).allowed


def test_a_batch_drops_the_people_without_consent():
    subjects = (
        SubjectFact("key-ada", "/members/0/email_address", "/members/0"),
        SubjectFact("key-bob", "/members/1/email_address", "/members/1"),
        SubjectFact(None, "/members/2/email_address", "/members/2"),
    )
    decision = decide(facts(subjects=subjects), POLICY)
    assert decision.verdict is Verdict.REDACT
    assert decision.drop == ("/members/1", "/members/2")
    assert decision.dropped_subjects == ("key-bob", None)
    assert decision.consent_event_ids == (7,)


def test_a_batch_with_nobody_left_is_denied():
    subjects = (SubjectFact("key-bob", "/members/0/email_address", "/members/0"),)
    decision = decide(facts(subjects=subjects), POLICY)
    assert decision.verdict is Verdict.DENY
    assert decision.reasons[-1].message == "no person in the batch may receive this"


def test_purposes_on_other_bases_need_no_consent():
    grant = replace(GRANT, purposes=frozenset({"sales"}))
    assert decide(facts(purpose="sales", grant=grant, consents={}), POLICY).allowed


def test_a_lookup_by_vendor_id_discloses_nothing_new():
    lookup = facts(
        data=(), subjects=(SubjectFact("key-hash", "path:subscriber_hash"),), consents={}
    )
    assert decide(lookup, POLICY).allowed


def test_a_purpose_without_lawful_basis_is_denied():
    policy = parse_policy(
        {"lawful_bases": {"marketing": "consent"}, "transfers": {"eea": ["DE"]}}, "v"
    )
    grant = replace(GRANT, purposes=frozenset({"sales"}))
    tool = ToolFacts("crm", "approved", "DE", None, None)
    assert rules(decide(facts(purpose="sales", grant=grant, tool=tool), policy)) == ["consent"]


def test_gpc_opts_out_of_third_party_advertising_only():
    grant = replace(GRANT, purposes=frozenset({"marketing"}))
    ads = facts(
        purpose="marketing.advertising.third_party.targeted",
        grant=grant,
        signals=Signals(gpc=True),
        consents={"key-ada": (ConsentFact("marketing", True, None, 9),)},
    )
    assert rules(decide(ads, POLICY)) == ["gpc"]
    assert decide(facts(signals=Signals(gpc=True)), POLICY).allowed


def tcf_facts(
    tc_name: str, vendor: int | None, purpose: str = "marketing.advertising.third_party.targeted"
):
    return facts(
        purpose=purpose,
        grant=replace(GRANT, purposes=frozenset({"marketing"})),
        consents={"key-ada": (ConsentFact("marketing", True, None, 9),)},
        tool=ToolFacts("adtool", "approved", "DE", None, None, iab_vendor_id=vendor),
        signals=Signals(tc_string=TC[tc_name]),
    )


def test_tcf_purposes_and_vendor_consent_allow():
    assert decide(tcf_facts("all_consents", vendor=1), POLICY).allowed


def test_tcf_wrong_vendor_or_missing_purpose_denies():
    decision = decide(tcf_facts("only_purposes_1_2_7", vendor=1), POLICY)
    assert rules(decision) == ["tcf"] and "[3, 4]" in decision.reasons[0].message
    assert rules(decide(tcf_facts("all_consents", vendor=6), POLICY)) == ["tcf"]


def test_tcf_legitimate_interest_does_not_count_for_purposes_3_to_6():
    assert not decide(tcf_facts("legitimate_interests", vendor=1), POLICY).allowed


@pytest.mark.parametrize("cut", [10, 40, 61])
def test_a_truncated_tc_string_denies_even_without_a_vendor_id(cut):
    broken = replace(
        tcf_facts("all_consents", vendor=None), signals=Signals(tc_string=TC["all_consents"][:cut])
    )
    decision = decide(broken, POLICY)
    assert rules(decision) == ["tcf"]
    assert "cannot be used" in decision.reasons[0].message


def test_all_objections_are_reported_together():
    tool = ToolFacts("mailchimp", "suspended", "US", "none", None)
    decision = decide(facts(tool=tool, consents={}), POLICY)
    assert rules(decision) == ["tool_status", "transfers", "consent"]


def test_the_policy_file_is_checked():
    with pytest.raises(PolicyError, match="not a fideslang data use"):
        parse_policy({"lawful_bases": {"marketing.telepathy": "consent"}}, "v")
    with pytest.raises(PolicyError, match="is not one of"):
        parse_policy({"lawful_bases": {"marketing": "because"}}, "v")


def test_norway_is_in_the_eea_and_country_codes_are_checked():
    assert "NO" in POLICY.eea
    tool = ToolFacts("mailchimp", "approved", "NO", None, None)
    assert decide(facts(tool=tool), POLICY).allowed
    with pytest.raises(PolicyError, match="two-letter country codes"):
        parse_policy({"lawful_bases": {"marketing": "consent"}, "transfers": {"eea": [False]}}, "v")


def test_gpc_also_refuses_a_broader_purpose_that_covers_advertising():
    grant = replace(GRANT, purposes=frozenset({"marketing"}))
    broad = facts(
        purpose="marketing",
        grant=grant,
        signals=Signals(gpc=True),
        consents={"key-ada": (ConsentFact("marketing", True, None, 9),)},
    )
    assert rules(decide(broad, POLICY)) == ["gpc"]


def test_no_consent_is_claimed_where_none_was_needed():
    lookup = facts(data=(), subjects=(SubjectFact("key-ada", "path:subscriber_hash"),))
    assert decide(lookup, POLICY).consent_event_ids == ()

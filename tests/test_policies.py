"""The decision engine as a pure function."""

from __future__ import annotations

from datetime import date

from policies.decision import Verdict
from policies.engine import decide
from policies.facts import ExchangeFacts, GrantFacts, ToolFacts

TODAY = date(2026, 11, 22)
GRANT = GrantFacts(
    purposes=frozenset({"marketing.communications.email"}),
    data_categories=frozenset({"user.contact.email"}),
    mode="strict",
    expires=None,
)


def facts(status="approved", review_due=None, grant=GRANT) -> ExchangeFacts:
    return ExchangeFacts(
        client_id="gh_app",
        department="growth",
        tool=ToolFacts("mailchimp", status, "US", "dpf", review_due),
        grant=grant,
        today=TODAY,
    )


def rules(decision) -> list[str]:
    return [reason.rule for reason in decision.reasons]


def test_approved_tool_with_grant_is_allowed():
    decision = decide(facts())
    assert decision.verdict is Verdict.ALLOW
    assert decision.reasons == ()


def test_every_status_but_approved_is_denied():
    for status in ("requested", "under_review", "suspended", "retired"):
        decision = decide(facts(status=status))
        assert decision.verdict is Verdict.DENY
        assert rules(decision) == ["tool_status"]
        assert status in decision.reasons[0].message


def test_overdue_review_denies():
    assert rules(decide(facts(review_due=date(2026, 11, 21)))) == ["tool_status"]
    assert decide(facts(review_due=TODAY)).verdict is Verdict.ALLOW


def test_missing_or_expired_grant_denies():
    assert rules(decide(facts(grant=None))) == ["department_grant"]
    expired = GrantFacts(GRANT.purposes, GRANT.data_categories, "strict", date(2026, 11, 21))
    decision = decide(facts(grant=expired))
    assert rules(decision) == ["department_grant"]
    assert "expired on 2026-11-21" in decision.reasons[0].message


def test_all_objections_are_reported_together():
    assert rules(decide(facts(status="suspended", grant=None))) == [
        "tool_status",
        "department_grant",
    ]

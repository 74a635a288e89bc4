"""The rules, each a pure function of the facts returning the reasons it objects.

A rule's id is stable: it appears in problem responses, the exchange log and reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from policies.decision import Decision, Reason, Verdict
from policies.facts import ExchangeFacts

Rule = Callable[[ExchangeFacts], Iterable[Reason]]


def tool_status(facts: ExchangeFacts) -> Iterable[Reason]:
    tool = facts.tool
    if tool.status != "approved":
        yield Reason("tool_status", f"tool {tool.slug!r} is {tool.status}, not approved")
    elif tool.review_due is not None and tool.review_due < facts.today:
        yield Reason(
            "tool_status", f"tool {tool.slug!r} was due for re-review on {tool.review_due}"
        )


def department_grant(facts: ExchangeFacts) -> Iterable[Reason]:
    grant = facts.grant
    if grant is None:
        yield Reason(
            "department_grant",
            f"department {facts.department!r} holds no grant for tool {facts.tool.slug!r}",
        )
    elif grant.expires is not None and grant.expires < facts.today:
        yield Reason(
            "department_grant",
            f"the grant of department {facts.department!r} for tool {facts.tool.slug!r} "
            f"expired on {grant.expires}",
        )


RULES: tuple[Rule, ...] = (tool_status, department_grant)


def decide(facts: ExchangeFacts) -> Decision:
    reasons = tuple(reason for rule in RULES for reason in rule(facts))
    return Decision(Verdict.DENY if reasons else Verdict.ALLOW, reasons)

"""A refusal by the proxy: a problem response that carries the rule that refused."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import Problem
from policies.decision import Decision, Reason, Verdict


def refusal(
    status: int,
    slug: str,
    title: str,
    rule: str,
    message: str,
    headers: dict[str, str] | None = None,
    extra: dict | None = None,
) -> Problem:
    """A problem whose reason names the rule that refused (snake_case, as the log has it)."""
    return Problem(
        status,
        slug,
        title,
        message,
        reasons=[{"rule": rule, "message": message}],
        headers=headers or {},
        extra=extra or {},
    )


@dataclass(eq=False)
class PolicyRefusal(Problem):
    """A 403 from the decision engine, carrying the whole decision for the log."""

    decision: Decision | None = None


def policy_refusal(decision: Decision) -> PolicyRefusal:
    return PolicyRefusal(
        403,
        "policy-denied",
        "Refused by policy",
        "; ".join(reason.message for reason in decision.reasons),
        reasons=[reason.as_dict() for reason in decision.reasons],
        decision=decision,
    )


def decision_of(problem: Problem) -> Decision:
    """The refusal as the exchange log records it. A problem raised without a reason gets
    its type as the rule, spelled as rules are (``invalid_body``, not ``invalid-body``)."""
    if isinstance(problem, PolicyRefusal) and problem.decision is not None:
        return problem.decision
    reasons = tuple(Reason(r["rule"], r["message"]) for r in problem.reasons)
    return Decision(Verdict.DENY, reasons or (Reason(rule_name(problem.slug), problem.detail),))


def rule_name(slug: str) -> str:
    """The rule spelling of a problem type slug."""
    return slug.replace("-", "_")

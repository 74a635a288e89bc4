"""A refusal by the proxy: a problem response that carries the rule that refused."""

from __future__ import annotations

from gateway.errors import Problem
from policies.decision import Decision, Reason, Verdict


def refusal(
    status: int,
    slug: str,
    title: str,
    rule: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Problem:
    return Problem(
        status,
        slug,
        title,
        message,
        reasons=[{"rule": rule, "message": message}],
        headers=headers or {},
    )


def decision_of(problem: Problem) -> Decision:
    """The refusal as the exchange log records it."""
    reasons = tuple(Reason(r["rule"], r["message"]) for r in problem.reasons)
    return Decision(Verdict.DENY, reasons or (Reason(problem.slug, problem.detail),))

"""The rules, each a pure function of the facts and the policy, and the decision they make.

A rule yields what it objects to: a :class:`Reason` denies the call; a :class:`Strip`
removes a field and a :class:`Drop` removes a person from a batch (the call goes on as
``redact``). Rule ids are stable: they appear in problem responses, the exchange log
and reports. Everything fails closed: a fact the engine cannot establish (an unknown
country, an unreadable identifier or TC string, a purpose without a lawful basis)
refuses rather than allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from policies.decision import Decision, Reason, Verdict
from policies.facts import ConsentFact, ExchangeFacts, SubjectFact
from policies.policy import Policy
from policies.taxonomy import covered_by_any, covers, lineage
from policies.tcf import TCStringError
from policies.tcf import decode as decode_tc_string


@dataclass(frozen=True)
class Strip:
    pointer: str
    reason: Reason


@dataclass(frozen=True)
class Drop:
    subject: SubjectFact
    reason: Reason


Finding = Reason | Strip | Drop
Rule = Callable[[ExchangeFacts, Policy], Iterable[Finding]]


def tool_status(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    tool = facts.tool
    if tool.status != "approved":
        yield Reason("tool_status", f"tool {tool.slug!r} is {tool.status}, not approved")
    elif tool.review_due is not None and tool.review_due < facts.today:
        yield Reason(
            "tool_status", f"tool {tool.slug!r} was due for re-review on {tool.review_due}"
        )


def department_grant(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    grant, where = facts.grant, f"department {facts.department!r} for tool {facts.tool.slug!r}"
    if grant is None:
        yield Reason("department_grant", f"no grant to {where}")
    elif grant.expires is not None and grant.expires < facts.today:
        yield Reason("department_grant", f"the grant to {where} expired on {grant.expires}")
    elif not covered_by_any(facts.purpose, grant.purposes):
        yield Reason(
            "department_grant",
            f"the grant to {where} does not cover the purpose {facts.purpose!r}",
        )


def minimisation(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    """Data categories outside the grant: refused (strict) or stripped (redact)."""
    if facts.grant is None:
        return
    outside = [
        found
        for found in facts.data
        if not covered_by_any(found.category, facts.grant.data_categories)
        and not covered_by_any(found.category, policy.special_categories)
    ]
    yield from _strip_or_refuse("minimisation", outside, facts, "is not in the grant")


def special_categories(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    """Art. 9 data passes only where the grant names a special category that covers it."""
    granted = facts.grant.data_categories if facts.grant else frozenset()
    named = {c for c in granted if covered_by_any(c, policy.special_categories)}
    unnamed = [
        found
        for found in facts.data
        if covered_by_any(found.category, policy.special_categories)
        and not covered_by_any(found.category, named)
    ]
    yield from _strip_or_refuse(
        "special_categories", unnamed, facts, "is a special category the grant does not name"
    )


def _strip_or_refuse(rule: str, fields, facts: ExchangeFacts, why: str) -> Iterable[Finding]:
    identifiers = {subject.location for subject in facts.subjects}
    redact = facts.grant is not None and facts.grant.mode == "redact"
    for found in fields:
        reason = Reason(rule, f"{found.category} at {found.pointer} {why}")
        yield (
            Strip(found.pointer, reason) if redact and found.pointer not in identifiers else reason
        )


def transfers(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    if not _personal_data(facts):
        return
    tool, country = facts.tool, facts.tool.country
    if country is None:
        yield Reason("transfers", f"tool {tool.slug!r} has no processing country on record")
        return
    if country in policy.eea:
        return
    valid = {
        "scc": True,
        "adequacy": country in policy.adequacy,
        "dpf": country in policy.dpf,
    }.get(tool.transfer_basis or "none", False)
    if not valid:
        yield Reason(
            "transfers",
            f"personal data to {country} needs a transfer basis; tool {tool.slug!r} has "
            f"{tool.transfer_basis or 'none'}",
        )


def consent(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    basis = policy.lawful_basis(facts.purpose)
    if basis is None:
        yield Reason("consent", f"the policy gives no lawful basis for {facts.purpose!r}")
        return
    if basis != "consent" or not _sends_personal_data(facts):
        return
    if not facts.subjects:
        yield Reason("consent", "personal data whose owner the connector cannot identify")
        return
    for subject in facts.subjects:
        problem = _consent_problem(subject, facts)
        if problem is None:
            continue
        reason = Reason("consent", f"{subject.location}: {problem}")
        yield Drop(subject, reason) if subject.item else reason


def _consent_problem(subject: SubjectFact, facts: ExchangeFacts) -> str | None:
    if subject.key is None:
        return "the identifier cannot be read, so consent cannot be checked"
    state = current_consent(facts.consents.get(subject.key, ()), facts.purpose)
    if state is None:
        return f"no consent on record for {facts.purpose!r}"
    if not state.granted:
        return f"consent for {state.purpose!r} was withdrawn"
    if state.expires_at is not None and state.expires_at <= facts.now:
        return f"consent for {state.purpose!r} expired on {state.expires_at.date()}"
    return None


def current_consent(states: Iterable[ConsentFact], purpose: str) -> ConsentFact | None:
    """The state for the purpose, or for its nearest parent purpose that has one."""
    by_purpose = {state.purpose: state for state in states}
    return next((by_purpose[p] for p in lineage(purpose) if p in by_purpose), None)


def gpc(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    opted_out = policy.gpc_opt_out
    overlaps = covered_by_any(facts.purpose, opted_out) or any(
        covers(facts.purpose, use) for use in opted_out
    )  # "marketing" covers third-party advertising too
    if facts.signals.gpc and overlaps:
        yield Reason(
            "gpc", f"Sec-GPC: 1 opts the person out of {facts.purpose!r} (sale or sharing)"
        )


def tcf(facts: ExchangeFacts, policy: Policy) -> Iterable[Finding]:
    if facts.signals.tc_string is None:
        return
    try:
        tc = decode_tc_string(facts.signals.tc_string)
    except TCStringError as exc:
        yield Reason("tcf", f"the TC string cannot be used: {exc}")
        return
    vendor = facts.tool.iab_vendor_id
    if vendor is None:
        return
    needed = policy.tcf_purposes_for(facts.purpose)
    refused = sorted(p for p in needed if not tc.purpose_allowed(p, vendor))
    if refused:
        yield Reason(
            "tcf",
            f"the TC string does not allow IAB vendor {vendor} purposes {refused} "
            f"needed for {facts.purpose!r}",
        )


def _personal_data(facts: ExchangeFacts) -> bool:
    return bool(facts.subjects) or any(c.startswith("user") for c in facts.categories)


def _sends_personal_data(facts: ExchangeFacts) -> bool:
    """True unless the call only names a record the vendor holds (a lookup by id in the
    path, as in ``GET /members/{hash}``): that discloses nothing new about the person,
    and a vendor's record id cannot be matched to consent recorded by e-mail."""
    in_body = any(not subject.location.startswith("path:") for subject in facts.subjects)
    return in_body or any(c.startswith("user") for c in facts.categories)


RULES: tuple[Rule, ...] = (
    tool_status,
    department_grant,
    minimisation,
    special_categories,
    transfers,
    consent,
    gpc,
    tcf,
)


def decide(facts: ExchangeFacts, policy: Policy) -> Decision:
    findings = [finding for rule in RULES for finding in rule(facts, policy)]
    denials = tuple(f for f in findings if isinstance(f, Reason))
    strips = [f for f in findings if isinstance(f, Strip)]
    drops = [f for f in findings if isinstance(f, Drop)]
    if drops and not {s.item for s in facts.subjects} - {d.subject.item for d in drops}:
        everyone = Reason("consent", "no person in the batch may receive this")
        denials = (*denials, *(drop.reason for drop in drops), everyone)
    relied_on = (
        _consents_relied_on(facts, {drop.subject.key for drop in drops})
        if policy.lawful_basis(facts.purpose) == "consent" and _sends_personal_data(facts)
        else ()
    )
    if denials:
        return Decision(Verdict.DENY, denials, policy.version)
    if strips or drops:
        return Decision(
            Verdict.REDACT,
            tuple(f.reason for f in [*strips, *drops]),
            policy.version,
            strip=tuple(f.pointer for f in strips),
            drop=tuple(sorted({f.subject.item for f in drops})),
            dropped_subjects=tuple(f.subject.key for f in drops),
            consent_event_ids=relied_on,
        )
    return Decision(Verdict.ALLOW, (), policy.version, consent_event_ids=relied_on)


def _consents_relied_on(facts: ExchangeFacts, dropped: set[str | None]) -> tuple[int, ...]:
    states = (
        current_consent(facts.consents.get(subject.key, ()), facts.purpose)
        for subject in facts.subjects
        if subject.key is not None and subject.key not in dropped
    )
    return tuple(sorted({state.event_id for state in states if state is not None}))

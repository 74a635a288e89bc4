"""Our decision engine vs the same rules in OPA's Rego, timed in one run on the same inputs.

Why: the issue asks whether an in-process Python engine is fast enough compared with the
usual answer, a Rego policy. This runs the same decisions through both: (a)
``policies.engine.decide`` in-process and (b) ``bench/policy.rego`` through ``regopy``
(rego-cpp's Python binding) on its bundle path: the policy and the settings of
``policies/policy.yaml`` (as ``load_policy()`` reads them, passed to Rego as ``data``) are
compiled once into a bundle, saved, loaded into a fresh interpreter, and each decision only
sets the input and queries the bundle's entrypoint.

Before any timing it checks, for every timed input and for more inputs that reach the other
branches of the rules, that both give the same verdict, the same reasons (rule ids and
messages, in any order), the same stripped fields, dropped items, dropped subjects and
consent event ids; it stops with the difference if not, because timing two engines that
disagree would prove nothing. The Rego side has no TCF rule (the inputs carry no TC string).

    .venv/bin/python bench/decision_vs_rego.py [--iterations 2000] [--warmup 200]

Per input it prints the median and the 95th percentile of one decision in microseconds for
each engine, alternating the two call by call, and the ratio Rego / ours (above 1: ours is
faster), then the same over all inputs pooled. Our time is ``decide(facts, policy)``.
Rego's is regopy building its ``Input`` from JSON-like values, ``set_input``, the bundle
query and regopy reading the result; turning the facts into those JSON-like values is
timed on its own line, as only a Rego deployment would need it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import regopy
from regopy import BundleFormat, Input, Interpreter

from policies.decision import Decision
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
from policies.policy import Policy, load_policy

REGO_POLICY = Path(__file__).with_name("policy.rego")
ENTRYPOINT = "gatehouse/decision"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EMAIL = "marketing.communications.email"
MAILCHIMP = ToolFacts("mailchimp", "approved", "US", "dpf", date(2027, 6, 1))
NEWSLETTER_GRANT = GrantFacts(
    purposes=frozenset({"marketing.communications"}),
    data_categories=frozenset({"user.contact.email", "user.name"}),
    mode="strict",
    expires=date(2027, 12, 31),
)


# --- The inputs ---------------------------------------------------------------------------


def granted(purpose: str, event_id: int, expires_in_days: int | None = 365) -> ConsentFact:
    expires_at = None if expires_in_days is None else NOW + timedelta(days=expires_in_days)
    return ConsentFact(purpose, True, expires_at, event_id)


def exchange(**fields) -> ExchangeFacts:
    defaults = {
        "client_id": "growth_app",
        "department": "growth",
        "tool": MAILCHIMP,
        "grant": NEWSLETTER_GRANT,
        "now": NOW,
        "purpose": EMAIL,
    }
    return ExchangeFacts(**{**defaults, **fields})


def single_signup(**changes) -> ExchangeFacts:
    """One person subscribes to the newsletter: e-mail and first name, consent on record."""
    fields = {
        "data": (
            DataFact("/email_address", "user.contact.email"),
            DataFact("/merge_fields/FNAME", "user.name"),
        ),
        "subjects": (SubjectFact("key-ada", "/email_address"),),
        "consents": {"key-ada": (granted(EMAIL, 7),)},
    }
    return exchange(**{**fields, **changes})


def member_consents(index: int) -> tuple[ConsentFact, ...]:
    """Most consented to e-mail or to marketing as a whole; a few did not, or no longer."""
    if index in (5, 17, 33):
        return ()
    if index == 21:
        return (ConsentFact(EMAIL, False, None, 1000 + index),)
    if index == 40:
        return (granted(EMAIL, 1000 + index, expires_in_days=-3),)
    if index == 44:
        return (granted("marketing", 1000 + index), ConsentFact(EMAIL, False, None, 2044))
    if index % 4 == 0:
        return (granted("marketing", 1000 + index, expires_in_days=None),)
    return (granted(EMAIL, 1000 + index),)


def batch_import(size: int = 50) -> ExchangeFacts:
    """A 50-member batch in redact mode: birthdays stripped, people without consent dropped."""
    data, subjects, consents = [], [], {}
    for index in range(size):
        item = f"/members/{index}"
        data += [
            DataFact(f"{item}/email_address", "user.contact.email"),
            DataFact(f"{item}/merge_fields/FNAME", "user.name"),
            DataFact(f"{item}/merge_fields/BIRTHDAY", "user.demographic.date_of_birth"),
        ]
        key = None if index == 12 else f"key-{index}"
        subjects.append(SubjectFact(key, f"{item}/email_address", item))
        if key is not None and member_consents(index):
            consents[key] = member_consents(index)
    grant = GrantFacts(NEWSLETTER_GRANT.purposes, NEWSLETTER_GRANT.data_categories, "redact", None)
    return exchange(grant=grant, data=tuple(data), subjects=tuple(subjects), consents=consents)


def inputs() -> dict[str, ExchangeFacts]:
    advertising_grant = GrantFacts(
        frozenset({"marketing"}), frozenset({"user.contact", "user.name"}), "strict", None
    )
    return {
        "single signup, allowed": single_signup(),
        "batch of 50, 7 dropped, redact": batch_import(),
        "suspended tool, denied": single_signup(
            tool=ToolFacts("mailchimp", "suspended", "US", "dpf", None)
        ),
        "transfer without basis, denied": single_signup(
            tool=ToolFacts("crm_br", "approved", "BR", "adequacy", None)
        ),
        "GPC vs third-party ads, denied": single_signup(
            purpose="marketing.advertising.third_party.targeted",
            grant=advertising_grant,
            signals=Signals(gpc=True),
            consents={"key-ada": (granted("marketing", 9),)},
        ),
        "health data not named, denied": single_signup(
            data=(
                DataFact("/email_address", "user.contact.email"),
                DataFact("/merge_fields/DIAGNOSIS", "user.health_and_medical"),
            )
        ),
        "lookup by vendor id, allowed": single_signup(
            data=(), subjects=(SubjectFact("key-ada", "path:subscriber_hash"),), consents={}
        ),
    }


def edge_cases() -> dict[str, ExchangeFacts]:
    """Checked for agreement but not timed: each rule's other branches."""
    ada_in_batch = SubjectFact("key-ada", "/members/0/email_address", "/members/0")
    redact = GrantFacts(NEWSLETTER_GRANT.purposes, frozenset({"user.name"}), "redact", None)
    return {
        "review due today": single_signup(tool=ToolFacts("m", "approved", "US", "dpf", NOW.date())),
        "review overdue": single_signup(
            tool=ToolFacts("m", "approved", "US", "dpf", date(2026, 11, 21))
        ),
        "no grant": single_signup(grant=None),
        "grant expired": single_signup(grant=replace(NEWSLETTER_GRANT, expires=date(2026, 11, 1))),
        "grant misses purpose": single_signup(purpose="marketing.advertising"),
        "no country": single_signup(tool=ToolFacts("m", "approved", None, "scc", None)),
        "EEA without basis": single_signup(tool=ToolFacts("m", "approved", "DE", None, None)),
        "adequacy JP": single_signup(tool=ToolFacts("m", "approved", "JP", "adequacy", None)),
        "scc BR": single_signup(tool=ToolFacts("m", "approved", "BR", "scc", None)),
        "unreadable identifier": single_signup(subjects=(SubjectFact(None, "/email_address"),)),
        "withdrawn": single_signup(consents={"key-ada": (ConsentFact(EMAIL, False, None, 3),)}),
        "expired": single_signup(consents={"key-ada": (granted(EMAIL, 3, -1),)}),
        "child withdrawn, parent granted": single_signup(
            consents={"key-ada": (granted("marketing", 2), ConsentFact(EMAIL, False, None, 3))}
        ),
        "everyone in batch dropped": single_signup(subjects=(ada_in_batch,), consents={}),
        "owner unknown": single_signup(subjects=(), consents={}),
        "legitimate interests": single_signup(
            purpose="sales",
            grant=GrantFacts(frozenset({"sales"}), frozenset({"user"}), "strict", None),
            consents={},
        ),
        "strict minimisation": single_signup(
            grant=GrantFacts(NEWSLETTER_GRANT.purposes, frozenset({"user.contact"}), "strict", None)
        ),
        "identifier outside redact grant": single_signup(grant=redact),
        "special category named": single_signup(
            data=(DataFact("/diagnosis", "user.health_and_medical"),),
            grant=GrantFacts(
                NEWSLETTER_GRANT.purposes,
                frozenset({"user.contact", "user.health_and_medical"}),
                "redact",
                None,
            ),
        ),
        "GPC, own newsletter": single_signup(signals=Signals(gpc=True)),
        "GPC, purpose broader than an opted-out one": single_signup(
            purpose="marketing",
            grant=GrantFacts(
                frozenset({"marketing"}), NEWSLETTER_GRANT.data_categories, "strict", None
            ),
            signals=Signals(gpc=True),
            consents={"key-ada": (granted("marketing", 9),)},
        ),
        "lookup by vendor id, consent on record (not relied on)": single_signup(
            data=(), subjects=(SubjectFact("key-ada", "path:subscriber_hash"),)
        ),
    }


# --- The same facts and policy, as Rego's input and data ---------------------------------


def nanoseconds(instant: datetime | None) -> int | None:
    return None if instant is None else (instant - EPOCH) // timedelta(microseconds=1) * 1000


def iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def rego_input(facts: ExchangeFacts) -> dict:
    """The facts as the JSON input that bench/policy.rego reads."""
    if facts.signals.tc_string is not None:
        raise ValueError("bench/policy.rego has no TCF rule: give it facts without a TC string")
    tool, grant = facts.tool, facts.grant
    return {
        "client_id": facts.client_id,
        "department": facts.department,
        "tool": {
            "slug": tool.slug,
            "status": tool.status,
            "country": tool.country,
            "transfer_basis": tool.transfer_basis,
            "review_due": iso(tool.review_due),
        },
        "grant": None
        if grant is None
        else {
            "purposes": sorted(grant.purposes),
            "data_categories": sorted(grant.data_categories),
            "mode": grant.mode,
            "expires": iso(grant.expires),
        },
        "today": iso(facts.today),
        "now": nanoseconds(facts.now),
        "purpose": facts.purpose,
        "data": [{"pointer": f.pointer, "category": f.category} for f in facts.data],
        "subjects": [
            {"key": s.key, "location": s.location, "item": s.item} for s in facts.subjects
        ],
        "consents": {
            key: {
                state.purpose: {
                    "purpose": state.purpose,
                    "granted": state.granted,
                    "expires_at": nanoseconds(state.expires_at),
                    "event_id": state.event_id,
                }
                for state in states
            }
            for key, states in facts.consents.items()
        },
        "signals": {"gpc": facts.signals.gpc},
    }


def listed(values) -> list:
    """A set of settings as a list; key=str because YAML may have read a code as a bool."""
    return sorted(values, key=str)


def rego_data(policy: Policy) -> dict:
    """The policy's settings, as load_policy() read them from policies/policy.yaml."""
    return {
        "policy": {
            "lawful_bases": dict(policy.lawful_bases),
            "default_mode": policy.default_mode,
            "special_categories": listed(policy.special_categories),
            "transfers": {
                "eea": listed(policy.eea),
                "adequacy": listed(policy.adequacy),
                "dpf": listed(policy.dpf),
            },
            "gpc_opt_out": listed(policy.gpc_opt_out),
            "tcf_purposes": {use: sorted(ids) for use, ids in policy.tcf_purposes.items()},
        }
    }


@dataclass
class RegoEngine:
    """A bundle built once and loaded into the interpreter that answers every decision."""

    interpreter: Interpreter
    bundle: regopy.Bundle

    @classmethod
    def compile(cls, policy: Policy, folder: Path) -> RegoEngine:
        builder = Interpreter()
        builder.add_data(rego_data(policy))
        builder.add_module(REGO_POLICY.name, REGO_POLICY.read_text())
        bundle = builder.build(None, [ENTRYPOINT])
        if not bundle.ok():
            raise SystemExit(f"{REGO_POLICY} does not compile:\n{bundle.node()}")
        path = str(folder / "gatehouse.rbb")
        builder.save_bundle(path, bundle, BundleFormat.Binary)
        runner = Interpreter()
        return cls(runner, runner.load_bundle(path, BundleFormat.Binary))

    def decide(self, prepared: dict) -> dict:
        self.interpreter.set_input(Input(prepared))
        output = self.interpreter.query_bundle_entrypoint(self.bundle, ENTRYPOINT)
        if not output.ok():
            raise SystemExit(f"Rego failed: {output}")
        return output[0].expressions[0]


# --- The check that both decide alike -----------------------------------------------------


def comparable(decision: Decision) -> dict:
    return {
        "verdict": decision.verdict.value,
        "rules": sorted({reason.rule for reason in decision.reasons}),
        "reasons": sorted((reason.rule, reason.message) for reason in decision.reasons),
        "strip": sorted(set(decision.strip)),
        "drop": sorted(decision.drop),
        "dropped_subjects": sorted(decision.dropped_subjects, key=str),
        "consent_event_ids": sorted(decision.consent_event_ids),
    }


def comparable_rego(answer: dict) -> dict:
    return {
        "verdict": answer["verdict"],
        "rules": sorted({reason["rule"] for reason in answer["reasons"]}),
        "reasons": sorted((reason["rule"], reason["message"]) for reason in answer["reasons"]),
        "strip": sorted(set(answer["strip"])),
        "drop": sorted(answer["drop"]),
        "dropped_subjects": sorted(answer["dropped_subjects"], key=str),
        "consent_event_ids": sorted(answer["consent_event_ids"]),
    }


def check_agreement(cases: dict[str, ExchangeFacts], policy: Policy, rego: RegoEngine) -> None:
    for name, facts in cases.items():
        ours = comparable(decide(facts, policy))
        theirs = comparable_rego(rego.decide(rego_input(facts)))
        if ours != theirs:
            raise SystemExit(
                f"The engines disagree on {name!r}; no timing is meaningful until they agree.\n"
                f"  ours: {ours}\n  rego: {theirs}"
            )
        print(f"  agree  {name:<34} {ours['verdict']:<6} rules={ours['rules']}")


# --- Timing -------------------------------------------------------------------------------


def microseconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1e6


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[int(share * (len(values) - 1))]


def time_alternately(
    calls: dict[str, Callable[[], object]], iterations: int, warmup: int
) -> dict[str, list[float]]:
    """Each call once per round, so that both engines see the same machine state."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(iterations):
        for name, call in calls.items():
            timings[name].append(microseconds(call))
    return timings


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):9.1f} {percentile(values, 0.95):9.1f}"


def ratio(ours: list[float], rego: list[float]) -> float:
    return statistics.median(rego) / statistics.median(ours)


def report(name: str, ours: list[float], rego: list[float]) -> None:
    print(f"{name:<34} {summary(ours)}   {summary(rego)}   {ratio(ours, rego):8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    policy, cases = load_policy(), inputs()
    with tempfile.TemporaryDirectory(prefix="gatehouse-rego-") as folder:
        rego = RegoEngine.compile(policy, Path(folder))
    print(f"regopy {regopy.__version__}, bundle path, entrypoint {ENTRYPOINT}")
    print("TCF: not implemented on the Rego side; no input carries a TC string.")
    print("Checking that both engines decide alike (timed inputs):")
    check_agreement(cases, policy, rego)
    print("... and on other branches of the rules (not timed):")
    check_agreement(edge_cases(), policy, rego)

    print(f"\nMicroseconds per decision, {args.iterations} iterations after {args.warmup} warm-up")
    print(
        f"{'input':<34} {'ours med':>9} {'ours p95':>9}   {'rego med':>9} {'rego p95':>9}"
        f"   {'rego/ours':>9}"
    )
    all_ours, all_rego, ratios = [], [], []
    for name, facts in cases.items():
        prepared = rego_input(facts)
        calls = {
            "ours": lambda facts=facts: decide(facts, policy),
            "rego": lambda prepared=prepared: rego.decide(prepared),
            "convert": lambda facts=facts: rego_input(facts),
        }
        timings = time_alternately(calls, args.iterations, args.warmup)
        report(name, timings["ours"], timings["rego"])
        print(f"{'  (facts -> Rego input, extra)':<34} {'':19}   {summary(timings['convert'])}")
        all_ours += timings["ours"]
        all_rego += timings["rego"]
        ratios.append(ratio(timings["ours"], timings["rego"]))
    report("all inputs pooled", all_ours, all_rego)
    verdict = "met" if min(ratios) >= 6 else "NOT met"
    print(f"rego/ours = Rego median / our median. Goal, ours 6x faster on every input: {verdict}")


if __name__ == "__main__":
    main()

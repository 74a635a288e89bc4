"""``gatehouse policy simulate``: what a candidate policy would change, on recorded traffic.

Each recorded exchange that reached the policy step is rebuilt as facts from the log
(tool, department, purpose, data categories, the people's keys) plus today's catalog
and consent registry, then decided twice: by the policy in force and by the candidate.
Only the policy differs between the two, so every change reported is the candidate's
doing. The log does not keep field positions or the privacy signals a request carried,
so redactions are compared by rule, not by field, and GPC/TCF are not replayed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.snapshot import CatalogSnapshot
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from policies.consent import consent_states
from policies.decision import Decision
from policies.engine import decide
from policies.facts import DataFact, ExchangeFacts, SubjectFact
from policies.policy import Policy

BATCH = 500


@dataclass(frozen=True)
class Change:
    seq: int
    tool: str
    before: str
    after: str
    rules: tuple[str, ...]


@dataclass
class Simulation:
    replayed: int = 0
    skipped: int = 0
    changes: list[Change] = field(default_factory=list)

    def by_rule(self) -> Counter:
        return Counter(
            (f"{c.before} -> {c.after}", rule) for c in self.changes for rule in c.rules or ("-",)
        )

    def by_tool(self) -> Counter:
        return Counter((f"{c.before} -> {c.after}", c.tool) for c in self.changes)


def simulate(
    session: Session, since: datetime, current: Policy, candidate: Policy, catalog: CatalogSnapshot
) -> Simulation:
    result = Simulation()
    for records in _batches(session, since):
        subjects = _subjects(session, [record.seq for record in records])
        keys = {key for entries in subjects.values() for key, _ in entries}
        consents = consent_states(session, keys)
        for record in records:
            facts = _facts(record, subjects.get(record.seq, []), consents, catalog)
            if facts is None:
                result.skipped += 1
                continue
            result.replayed += 1
            change = _compare(record, decide(facts, current), decide(facts, candidate))
            if change:
                result.changes.append(change)
    return result


def _batches(session: Session, since: datetime) -> Iterator[list[ExchangeRecord]]:
    query = (
        select(ExchangeRecord)
        .where(ExchangeRecord.started_at >= since, ExchangeRecord.purpose.is_not(None))
        .order_by(ExchangeRecord.seq)
        .execution_options(yield_per=BATCH)
    )
    records = iter(session.scalars(query))
    while batch := list(islice(records, BATCH)):
        yield batch


def _subjects(session: Session, seqs: list[int]) -> dict[int, list[tuple[str, bool]]]:
    rows = session.execute(
        select(ExchangeSubject.exchange_seq, ExchangeSubject.subject_key, ExchangeSubject.dropped)
        .where(ExchangeSubject.exchange_seq.in_(seqs))
        .order_by(ExchangeSubject.exchange_seq, ExchangeSubject.subject_key)
    )
    found: dict[int, list[tuple[str, bool]]] = {}
    for seq, key, dropped in rows:
        found.setdefault(seq, []).append((key, dropped))
    return found


def _facts(record, subjects, consents, catalog: CatalogSnapshot) -> ExchangeFacts | None:
    tool = catalog.tools.get(record.tool or "")
    if tool is None or record.department is None:
        return None
    keys = [key for key, _ in subjects]
    unreadable = max(record.subject_count - len(keys), 0)
    people = [*keys, *[None] * unreadable]
    batch = len(people) > 1
    return ExchangeFacts(
        client_id=record.client_id or "",
        department=record.department,
        tool=tool.facts,
        grant=catalog.grant(record.department, tool.slug),
        now=record.started_at,
        purpose=record.purpose,
        data=tuple(DataFact(f"/{category}", category) for category in record.data_categories),
        subjects=tuple(
            SubjectFact(key, f"/{index}/subject", f"/{index}" if batch else None)
            for index, key in enumerate(people)
        ),
        consents={key: consents[key] for key in keys if key in consents},
    )


def _compare(record: ExchangeRecord, before: Decision, after: Decision) -> Change | None:
    rules_before = {reason.rule for reason in before.reasons}
    rules_after = {reason.rule for reason in after.reasons}
    if before.verdict == after.verdict and rules_before == rules_after:
        return None
    return Change(
        seq=record.seq,
        tool=record.tool or "",
        before=before.verdict.value,
        after=after.verdict.value,
        rules=tuple(sorted(rules_before ^ rules_after)),
    )

"""Checking the exchange log: both hash chains, and the tail against a signed checkpoint.

Reports like a log-validation tool: how many records verify, and each one that does not
— ``altered`` (its content no longer matches its hash), ``missing`` (a gap in the
sequence: deleted), ``out_of_order`` (two records' contents swapped), ``cut_off``
(records the checkpoint vouches for are gone from the end) — for records and outcomes.

A chain holds when each of its links does: ``hash[n] == H(hash[n-1] || content[n])``
with the *stored* previous hash. So ranges of the log are checked on their own (see
``links``), several at once on a large log; only around a link that fails is the chain
walked in order, to tell a swap from an alteration.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.audit.chain import FROM_GENESIS, ChainStart, record_hash
from gateway.audit.checkpoints import Checkpoint
from gateway.audit.links import check_range, record_before, record_values
from gateway.audit.models import ExchangeRecord, ExchangeSubject

#: Sequence numbers per range checked as one task. Measured on 1,000,000 bench records
#: (about 1 KB of rendering each), 3 at once on 2 CPUs, garbage collector paused, six
#: runs each: 40,000 gave 170,800 records/s on average, 10,000 gave 164,700 and spent
#: 15% more CPU in this process (more ranges, each with its own queries).
CHUNK = 40_000
#: Below this many records one process checks everything (starting workers costs more).
PARALLEL_FROM = 100_000
#: How far apart two swapped records may be and still be recognised as a swap.
SWAP_WINDOW = 16


@dataclass(frozen=True)
class Finding:
    kind: str
    seq: int
    detail: str


@dataclass
class Report:
    records: int = 0
    valid_records: int = 0
    outcomes: int = 0
    valid_outcomes: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def trail_entry(self, within: tuple[int, int] | None, checkpoint: Checkpoint | None) -> dict:
        """What the auditors' trail keeps of this verification: the range asked for (none:
        the whole log), the checkpoint the tail was checked against, and the counts."""
        return {
            "from_seq": within[0] if within else None,
            "to_seq": within[1] if within else None,
            "checkpoint_seq": checkpoint.seq if checkpoint else None,
            "records": self.records,
            "valid_records": self.valid_records,
            "outcomes": self.outcomes,
            "valid_outcomes": self.valid_outcomes,
            "problems": len(self.findings),
        }


def verify(
    session: Session,
    checkpoint: Checkpoint | None = None,
    on_progress: Callable[[int], None] = lambda count: None,
    workers: int | None = None,
    chunk: int = CHUNK,
    anchor: Checkpoint | None = None,
    within: tuple[int, int] | None = None,
) -> Report:
    """``workers``: how many ranges of ``chunk`` sequence numbers are checked at once,
    each on a connection of its own (default: one more than CPUs on a large log, else
    one). ``anchor``: where retention pruning cut the log; the chains continue from it.
    ``within``: check only the records with these first and last sequence numbers (and
    their outcomes), each link against the stored hash before it; the tail is checked
    against the checkpoint only when the checkpoint's record lies in that range."""
    report = Report()
    start = _start(anchor)
    records, count = _ranges(session, ExchangeRecord.seq, chunk, within)
    if workers is None:
        # One more than CPUs: PostgreSQL renders a range while this process hashes another.
        workers = (os.cpu_count() or 1) + 1 if count >= PARALLEL_FROM else 1
    outcome_results: list = []
    with _collector_paused(), _Checker(session, workers) as check:
        ranges = check(partial(check_range, start=start), records)
        results = _noting_outcomes(ranges, outcome_results)
        last_seq = _merge_records(session, report, results, on_progress, start)
    last_outcome = _merge_outcomes(report, outcome_results)
    if checkpoint is not None and within is not None:
        checkpoint = checkpoint if within[0] <= checkpoint.seq <= within[1] else None
    if checkpoint is not None and checkpoint.seq > start.seq:  # else: made before a prune
        _check_tail(session, report, checkpoint, last_seq, last_outcome)
    return report


@contextmanager
def _collector_paused():
    """Checking makes millions of short-lived rows and tuples, none in a reference cycle:
    reference counting frees them all, and the garbage collector's passes over them
    while they live cost about 6% of the time (1,000,000 records: 161,800 -> 171,400
    records/s, three runs each). The collector runs again as before once done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _start(anchor: Checkpoint | None) -> ChainStart:
    if anchor is None:
        return FROM_GENESIS
    return ChainStart(anchor.seq, anchor.record_hash, anchor.outcome_seq, anchor.outcome_hash)


def _ranges(
    session: Session, column, chunk: int, within: tuple[int, int] | None
) -> tuple[list[tuple[int, int]], int]:
    statement = select(func.min(column), func.max(column), func.count(column))
    if within is not None:
        statement = statement.where(column.between(*within))
    first, last, count = session.execute(statement).one()
    if first is None:
        return [], 0
    return [(lo, min(lo + chunk - 1, last)) for lo in range(first, last + 1, chunk)], count


class _Checker:
    """Runs range checks, giving their results in order: on the session's connection, or
    in threads with a connection each. Threads suffice: PostgreSQL's backends do the
    heavy part (see ``links``); the hashing here takes a fraction of one CPU."""

    def __init__(self, session: Session, workers: int) -> None:
        self._engine = session.get_bind()
        url = self._engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        self._connection = session.connection()
        self._pool = ThreadPoolExecutor(workers) if workers > 1 and not in_memory else None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def __call__(self, check, ranges: list[tuple[int, int]]) -> Iterator:
        if self._pool is None:
            return (check(self._connection, lo, hi) for lo, hi in ranges)
        return self._pool.map(lambda bounds: self._on_own_connection(check, *bounds), ranges)

    def _on_own_connection(self, check, lo: int, hi: int):
        with self._engine.connect() as connection:
            return check(connection, lo, hi)


def _noting_outcomes(results, outcomes: list) -> Iterator:
    """The records' part of each range's results, keeping the outcomes' part aside."""
    for records, outcome in results:
        outcomes.append(outcome)
        yield records


def _merge_records(session: Session, report: Report, results, on_progress, start) -> int:
    ranked: list[tuple[int, int, Finding]] = []
    failures: list[int] = []
    last = 0
    for count, last_seq, failed, gaps in results:
        report.records += count
        failures += failed
        for expected, seq in gaps:
            gone = f"records {expected}..{seq - 1} are gone (deleted)"
            ranked.append((seq, 0, Finding("missing", expected, gone)))
        last = last_seq or last
        on_progress(report.records)
    report.valid_records = report.records - len(failures)
    found, adjustment = _walk_failures(session, failures, start)
    report.valid_records += adjustment
    ranked += [(finding.seq, 1, finding) for finding in found]
    ranked.sort(key=lambda item: item[:2])
    report.findings += [finding for _, _, finding in ranked]
    return last


def _merge_outcomes(report: Report, results) -> int:
    ranked: list[tuple[int, int, Finding]] = []
    last = 0
    for count, last_seq, broken, gaps in results:
        report.outcomes += count
        report.valid_outcomes += count - len(broken)
        for expected, number, seq in gaps:
            gone = f"outcomes {expected}..{number - 1} are gone"
            ranked.append((number, 0, Finding("missing", seq, gone)))
        for number, seq in broken:
            changed = "its outcome no longer matches its outcome hash"
            ranked.append((number, 1, Finding("altered", seq, changed)))
        last = last_seq or last
    ranked.sort(key=lambda item: item[:2])
    report.findings += [finding for _, _, finding in ranked]
    return last


def _walk_failures(
    session: Session, failures: list[int], chain_start: ChainStart
) -> tuple[list[Finding], int]:
    """Walks the chain in order from each failing link until it is back on the stored
    hashes, telling swaps from alterations. Returns the findings, and how many more (or
    fewer) records are valid than the links alone say."""
    findings, adjustment, failed, position = [], 0, set(failures), 0
    while position < len(failures):
        start = failures[position]
        previous = record_before(session.connection(), start, chain_start)[1]
        window, true_hashes, index = _Window(session, start), {}, 0
        while window.has(index + 1):
            row = window.rows[index]
            valid = False
            if row["seq"] in true_hashes:  # the other half of a swap found earlier
                previous = true_hashes.pop(row["seq"])
            elif record_hash(previous, row) == row["record_hash"]:
                valid, previous = True, row["record_hash"]
            else:
                window.has(index + 1 + SWAP_WINDOW)
                previous = _explain(findings, window.rows, index, previous, true_hashes)
            adjustment += valid - (row["seq"] not in failed)
            index += 1
            while position < len(failures) and failures[position] <= row["seq"]:
                position += 1
            if not true_hashes and previous == row["record_hash"]:
                break  # from here on, each record verifies as its own link says
    return findings, adjustment


def _explain(findings, rows, index, previous, true_hashes) -> str:
    """A record whose hash fails: swapped with a neighbour, or altered."""
    row = rows[index]
    for other in rows[index + 1 : index + 1 + SWAP_WINDOW]:
        if record_hash(previous, {**other, "seq": row["seq"]}) == other["record_hash"]:
            findings.append(
                Finding(
                    "out_of_order",
                    row["seq"],
                    f"records {row['seq']} and {other['seq']} have swapped contents",
                )
            )
            true_hashes[other["seq"]] = row["record_hash"]
            return other["record_hash"]
    findings.append(
        Finding(
            "altered",
            row["seq"],
            "its content no longer matches its hash (changed after writing)",
        )
    )
    return row["record_hash"]


class _Window:
    """Records as plain values (with their subject keys) from ``first`` on, read as far
    ahead as asked for."""

    def __init__(self, session: Session, first: int) -> None:
        self._session, self._next, self._done = session, first, False
        self.rows: list[dict] = []

    def has(self, count: int) -> bool:
        while len(self.rows) < count and not self._done:
            wanted = max(count - len(self.rows), 64)
            table = ExchangeRecord.__table__
            records = (
                self._session.execute(
                    select(table)
                    .where(table.c.seq >= self._next)
                    .order_by(table.c.seq)
                    .limit(wanted)
                )
                .mappings()
                .all()
            )
            self._done = len(records) < wanted
            if records:
                subjects = _subjects(self._session, records[0]["seq"], records[-1]["seq"])
                self.rows += [record_values(r, subjects.get(r["seq"], ([], []))) for r in records]
                self._next = records[-1]["seq"] + 1
        return len(self.rows) >= count


def _check_tail(session, report, checkpoint: Checkpoint, last_seq: int, last_outcome: int):
    if last_seq < checkpoint.seq or last_outcome < checkpoint.outcome_seq:
        report.findings.append(
            Finding(
                "cut_off",
                last_seq + 1,
                f"the log ends at record {last_seq} (outcome {last_outcome}) but the checkpoint of "
                f"{checkpoint.created_at} vouches for record {checkpoint.seq} "
                f"(outcome {checkpoint.outcome_seq}): the tail was removed",
            )
        )
        return
    stored = session.scalar(
        select(ExchangeRecord.record_hash).where(ExchangeRecord.seq == checkpoint.seq)
    )
    if stored != checkpoint.record_hash:
        report.findings.append(
            Finding(
                "altered",
                checkpoint.seq,
                "does not match the hash the checkpoint signed",
            )
        )


def _subjects(session: Session, first: int, last: int) -> dict[int, tuple[list, list]]:
    rows = session.execute(
        select(
            ExchangeSubject.exchange_seq, ExchangeSubject.subject_key, ExchangeSubject.dropped
        ).where(ExchangeSubject.exchange_seq.between(first, last))
    )
    found: dict[int, tuple[list, list]] = {}
    for seq, key, dropped in rows:
        found.setdefault(seq, ([], []))[1 if dropped else 0].append(key)
    return found

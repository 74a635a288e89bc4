"""Checking the exchange log: both hash chains, and the tail against a signed checkpoint.

Reports like a log-validation tool: how many records verify, and each one that does not
— ``altered`` (its content no longer matches its hash), ``missing`` (a gap in the
sequence: deleted), ``out_of_order`` (two records' contents swapped), ``cut_off``
(records the checkpoint vouches for are gone from the end) — for records and outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.chain import GENESIS, OUTCOME_FIELDS, outcome_hash, record_hash
from gateway.audit.checkpoints import Checkpoint
from gateway.audit.models import ExchangeRecord, ExchangeSubject

BATCH = 5000
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


def verify(
    session: Session,
    checkpoint: Checkpoint | None = None,
    on_progress: Callable[[int], None] = lambda count: None,
    anchor: Checkpoint | None = None,
) -> Report:
    """``anchor``: where retention pruning cut the log (the chains continue from it)."""
    report = Report()
    start = anchor or Checkpoint(0, GENESIS, 0, GENESIS, "", "", "")
    last_seq = _verify_records(session, report, on_progress, start)
    last_outcome = _verify_outcomes(session, report, start)
    if checkpoint is not None:
        _check_tail(session, report, checkpoint, start, last_seq, last_outcome)
    return report


def _verify_records(session: Session, report: Report, on_progress, start: Checkpoint) -> int:
    expected_seq, previous = start.seq + 1, start.record_hash
    for batch in _record_batches(session):
        true_hashes: dict[int, str] = {}
        for index, row in enumerate(batch):
            report.records += 1
            if row["seq"] != expected_seq:
                report.findings.append(
                    Finding(
                        "missing",
                        expected_seq,
                        f"records {expected_seq}..{row['seq'] - 1} are gone (deleted)",
                    )
                )
            if row["seq"] in true_hashes:  # the other half of a swap found earlier
                previous = true_hashes.pop(row["seq"])
            elif record_hash(previous, row) == row["record_hash"]:
                report.valid_records += 1
                previous = row["record_hash"]
            else:
                previous = _explain(report, batch, index, previous, true_hashes)
            expected_seq = row["seq"] + 1
        on_progress(report.records)
    return expected_seq - 1


def _explain(report, batch, index, previous, true_hashes) -> str:
    """A record whose hash fails: swapped with a neighbour, or altered."""
    row = batch[index]
    for other in batch[index + 1 : index + 1 + SWAP_WINDOW]:
        if record_hash(previous, {**other, "seq": row["seq"]}) == other["record_hash"]:
            report.findings.append(
                Finding(
                    "out_of_order",
                    row["seq"],
                    f"records {row['seq']} and {other['seq']} have swapped contents",
                )
            )
            true_hashes[other["seq"]] = row["record_hash"]
            return other["record_hash"]
    report.findings.append(
        Finding(
            "altered",
            row["seq"],
            "its content no longer matches its hash (changed after writing)",
        )
    )
    return row["record_hash"]


def _verify_outcomes(session: Session, report: Report, start: Checkpoint) -> int:
    table = ExchangeRecord.__table__
    columns = [table.c[name] for name in OUTCOME_FIELDS]
    rows = session.execute(
        select(*columns, table.c.record_hash, table.c.outcome_hash)
        .where(table.c.outcome_seq.is_not(None))
        .order_by(table.c.outcome_seq)
        .execution_options(yield_per=BATCH)
    ).mappings()
    expected, previous = start.outcome_seq + 1, start.outcome_hash
    for row in rows:
        report.outcomes += 1
        if row["outcome_seq"] != expected:
            gone = f"outcomes {expected}..{row['outcome_seq'] - 1} are gone"
            report.findings.append(Finding("missing", row["seq"], gone))
        if outcome_hash(previous, row["record_hash"], row) == row["outcome_hash"]:
            report.valid_outcomes += 1
        else:
            changed = "its outcome no longer matches its outcome hash"
            report.findings.append(Finding("altered", row["seq"], changed))
        previous, expected = row["outcome_hash"], row["outcome_seq"] + 1
    return expected - 1


def _check_tail(session, report, checkpoint, start, last_seq: int, last_outcome: int):
    if checkpoint.seq <= start.seq:
        return  # made before a prune: the records it vouches for are gone by design
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


def _record_batches(session: Session) -> Iterator[list[dict]]:
    """Records in sequence order as plain values, with the subject keys the chain covers."""
    table, last = ExchangeRecord.__table__, 0
    while True:
        records = (
            session.execute(
                select(table).where(table.c.seq > last).order_by(table.c.seq).limit(BATCH)
            )
            .mappings()
            .all()
        )
        if not records:
            return
        subjects = _subjects(session, records[0]["seq"], records[-1]["seq"])
        yield [_values(record, subjects.get(record["seq"], ([], []))) for record in records]
        last = records[-1]["seq"]


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


def _values(record, subjects: tuple[list, list]) -> dict:
    return {
        **record,
        "subject_keys": sorted(subjects[0]),
        "dropped_subject_keys": sorted(subjects[1]),
    }

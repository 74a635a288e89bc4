"""Folds new exchange records into the daily usage aggregates (``catalog.usage_models``).

The aggregates are refreshed incrementally, never rebuilt: the watermark remembers the
last record ``seq`` and the last completion ``outcome_seq`` folded in, and a refresh
reads only the rows after them (an index range scan each), adds their counts to the
day's rows (an upsert that sums; the people sent, a bitmap per row, are merged with
the stored one) and moves the watermark, all in the caller's transaction. Its first
statement locks the watermark row (a row lock on PostgreSQL, the write lock on SQLite),
so two refreshes never fold the same rows in twice.

Nothing here runs on the hot path: the writer of the log is untouched, and a report
refreshes before it reads (the first refresh folds in the whole existing log).
Decision facts count when a record is written, outcome facts when it completes; both
are filed under the UTC day the call started.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from datetime import UTC, date, datetime
from itertools import takewhile

from pyroaring import BitMap
from sqlalchemy import BigInteger, Table, cast, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from catalog.usage_models import (
    LATENCY_BOUNDS_MS,
    UsageCategory,
    UsageDaily,
    UsageLatency,
    UsagePeople,
    UsagePersonId,
    UsageRefusal,
    UsageWatermark,
    person_number,
)
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.db import utcnow

#: Records read per round trip while folding in.
CHUNK = 20_000
_FORWARDED = ("allow", "redact")
_WATERMARK_ID = 1

Key = tuple[date, str, str, str]


def refresh_usage(session: Session) -> tuple[int, int]:
    """Folds in every record and completion written since the last refresh; returns how
    many of each. The caller commits (which releases the lock)."""
    last_seq, last_outcome_seq = _lock_watermark(session)
    deltas = _Deltas()
    records, last_seq = _fold_records(session, last_seq, deltas)
    completions, last_outcome_seq = _fold_completions(session, last_outcome_seq, last_seq, deltas)
    deltas.write(session)
    session.execute(
        update(UsageWatermark)
        .where(UsageWatermark.id == _WATERMARK_ID)
        .values(last_seq=last_seq, last_outcome_seq=last_outcome_seq)
    )
    return records, completions


class _Deltas:
    """What a refresh adds, summed per key over all it reads, then written once (a chunk
    of records spreads over nearly as many keys as it has records)."""

    def __init__(self) -> None:
        self.daily: dict[Key, Counter] = {}
        self.latency, self.categories, self.refusals = Counter(), Counter(), Counter()
        self.people: dict[Key, BitMap] = {}

    def counts(self, key: Key) -> Counter:
        found = self.daily.get(key)
        if found is None:
            found = self.daily[key] = Counter()
        return found

    def write(self, session: Session) -> None:
        _add(session, UsageDaily.__table__, _rows(self.daily))
        _add(session, UsageLatency.__table__, _counted(self.latency, "bucket"))
        _add(session, UsageCategory.__table__, _counted(self.categories, "category"))
        _add(session, UsageRefusal.__table__, _counted(self.refusals, "rule"))
        _merge_people(session, self.people)


def purge_people_before(session: Session, day: date) -> None:
    """Retention: forget who was sent on days before ``day`` (the counts stay), and the
    numbers of the people sent on none of the days kept."""
    session.execute(delete(UsagePeople).where(UsagePeople.day < day))
    session.execute(delete(UsagePersonId).where(UsagePersonId.last_day < day))


def latency_bucket(latency_ms: float) -> int:
    """The histogram bucket of a latency (see ``LATENCY_BOUNDS_MS``)."""
    return bisect_left(LATENCY_BOUNDS_MS, latency_ms)


def _lock_watermark(session: Session) -> tuple[int, int]:
    """Writes the watermark row first, so its lock is held before anything is read."""
    touch = update(UsageWatermark).where(UsageWatermark.id == _WATERMARK_ID)
    if session.execute(touch.values(refreshed_at=utcnow())).rowcount == 0:
        first = _insert(session, UsageWatermark.__table__).values(
            id=_WATERMARK_ID, last_seq=0, last_outcome_seq=0, refreshed_at=utcnow()
        )
        session.execute(first.on_conflict_do_nothing(index_elements=["id"]))
        session.execute(touch.values(refreshed_at=utcnow()))
    row = session.execute(
        select(UsageWatermark.last_seq, UsageWatermark.last_outcome_seq).where(
            UsageWatermark.id == _WATERMARK_ID
        )
    ).one()
    return row.last_seq, row.last_outcome_seq


def _key(row) -> Key:
    return (_utc_day(row.started_at), row.tool or "", row.department or "", row.client_id or "")


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


_RECORD_COLUMNS = (
    ExchangeRecord.seq,
    ExchangeRecord.started_at,
    ExchangeRecord.tool,
    ExchangeRecord.department,
    ExchangeRecord.client_id,
    ExchangeRecord.decision,
    ExchangeRecord.data_categories,
    ExchangeRecord.categories_stripped,
    ExchangeRecord.subject_count,
    ExchangeRecord.reasons,
    ExchangeRecord.bytes_in,
)


def _fold_records(session: Session, after: int, deltas: _Deltas) -> tuple[int, int]:
    folded = 0
    while True:
        rows = session.execute(
            select(*_RECORD_COLUMNS)
            .where(ExchangeRecord.seq > after)
            .order_by(ExchangeRecord.seq)
            .limit(CHUNK)
        ).all()
        if not rows:
            return folded, after
        _fold_decisions(session, rows, after, rows[-1].seq, deltas)
        folded += len(rows)
        after = rows[-1].seq


def _fold_decisions(session: Session, rows: list, low: int, high: int, deltas: _Deltas) -> None:
    """Decision facts of records ``low < seq <= high``."""
    subjects = _subjects(session, low, high)
    categories, refusals, people = deltas.categories, deltas.refusals, []
    for row in rows:
        key = _key(row)
        counts = deltas.counts(key)
        counts["calls"] += 1
        if row.decision not in _FORWARDED:
            counts["denied"] += 1
            refusals.update((*key, rule) for rule in _rules(row.reasons))
            continue
        counts["allowed" if row.decision == "allow" else "redacted"] += 1
        sent, dropped = subjects.get(row.seq, ((), 0))
        counts["records_sent"] += row.subject_count - dropped
        counts["bytes_in"] += row.bytes_in or 0
        stripped = set(row.categories_stripped or ())
        categories.update((*key, c) for c in set(row.data_categories or ()) - stripped)
        people.extend((key, person_number(subject)) for subject in sent)
    _add_people(session, people, deltas.people)


def _subjects(session: Session, low: int, high: int) -> dict[int, tuple[list[str], int]]:
    """Per record: the keys of the people sent, and how many policy dropped."""
    found: dict[int, tuple[list[str], int]] = {}
    rows = session.execute(
        select(
            ExchangeSubject.exchange_seq, ExchangeSubject.subject_key, ExchangeSubject.dropped
        ).where(ExchangeSubject.exchange_seq > low, ExchangeSubject.exchange_seq <= high)
    )
    for seq, subject_key, dropped in rows:
        sent, dropped_count = found.get(seq, ([], 0))
        if dropped:
            dropped_count += 1
        else:
            sent.append(subject_key)
        found[seq] = (sent, dropped_count)
    return found


def _rules(reasons: list[dict] | None) -> set[str]:
    return {str(reason.get("rule") or "unknown")[:100] for reason in reasons or ()}


_OUTCOME_COLUMNS = (
    ExchangeRecord.outcome_seq,
    ExchangeRecord.seq,
    ExchangeRecord.started_at,
    ExchangeRecord.tool,
    ExchangeRecord.department,
    ExchangeRecord.client_id,
    ExchangeRecord.decision,
    ExchangeRecord.upstream_status,
    ExchangeRecord.error,
    ExchangeRecord.latency_ms,
    ExchangeRecord.bytes_out,
)


def _fold_completions(
    session: Session, after: int, through_seq: int, deltas: _Deltas
) -> tuple[int, int]:
    """Completions in their order, up to the first of a record not folded in yet (one
    written since the records were read): the next refresh goes on from there, so no
    call ever counts as completed before it counts as a call."""
    folded = 0
    while True:
        rows = session.execute(
            select(*_OUTCOME_COLUMNS)
            .where(ExchangeRecord.outcome_seq > after)
            .order_by(ExchangeRecord.outcome_seq)
            .limit(CHUNK)
        ).all()
        known = list(takewhile(lambda row: row.seq <= through_seq, rows))
        _fold_outcomes(known, deltas)
        folded += len(known)
        if not known:
            return folded, after
        after = known[-1].outcome_seq
        if len(known) < len(rows):
            return folded, after


def _fold_outcomes(rows: list, deltas: _Deltas) -> None:
    latency = deltas.latency
    for row in rows:
        key = _key(row)
        counts = deltas.counts(key)
        counts["completed"] += 1
        counts["bytes_out"] += row.bytes_out or 0
        if row.decision in _FORWARDED and _vendor_failed(row):
            counts["vendor_errors"] += 1
        if row.latency_ms is not None:
            latency[(*key, latency_bucket(row.latency_ms))] += 1


def vendor_failed(upstream_status: int | None, error: str | None) -> bool:
    """A forwarded call the vendor failed: it answered 500 or more, or not at all."""
    if upstream_status is not None:
        return upstream_status >= 500
    return error is not None


def _vendor_failed(row) -> bool:
    return vendor_failed(row.upstream_status, row.error)


def _rows(daily: dict[Key, Counter]) -> list[dict]:
    return [
        {"day": day, "tool": tool, "department": department, "app": app, **counts}
        for (day, tool, department, app), counts in daily.items()
    ]


def _counted(counter: Counter, name: str) -> list[dict]:
    return [
        {"day": day, "tool": tool, "department": department, "app": app, name: extra, "calls": n}
        for (day, tool, department, app, extra), n in counter.items()
    ]


def _add(session: Session, table: Table, rows: list[dict]) -> None:
    """Adds each row's counts to the stored row with its key (creating it if new)."""
    keys = [column.name for column in table.primary_key.columns]
    counts = [column.name for column in table.columns if column.name not in keys]
    rows = [{**dict.fromkeys(counts, 0), **row} for row in rows]
    _upsert(session, table, rows, keys, counts)


def _add_people(session: Session, people: list[tuple[Key, int]], into: dict[Key, BitMap]):
    """Adds each (key, person number) to the key's bitmap, as the person's small id."""
    last_days: dict[int, date] = {}
    for (day, *_), number in people:
        if last_days.get(number, day) <= day:
            last_days[number] = day
    ids = _person_ids(session, last_days)
    for key, number in people:
        found = into.get(key)
        if found is None:
            found = into[key] = BitMap()
        found.add(ids[number])


def _person_ids(session: Session, last_days: dict[int, date]) -> dict[int, int]:
    """The small id of each person number, given now to those seen for the first time;
    each one's last day moves to the latest seen. Ids come from the table's sequence
    (its rowid on SQLite); the watermark's lock keeps two refreshes from racing here."""
    table = UsagePersonId.__table__
    rows = [{"person": number, "last_day": day} for number, day in last_days.items()]
    _upsert(session, table, rows, ["person"], [], latest="last_day")
    numbers, ids = list(last_days), {}
    for start in range(0, len(numbers), _LOOKUP):
        some = numbers[start : start + _LOOKUP]
        if session.get_bind().dialect.name == "postgresql":
            matching = table.c.person == func.any(cast(some, postgresql.ARRAY(BigInteger)))
        else:
            matching = table.c.person.in_(some)
        ids.update(session.execute(select(table.c.person, table.c.id).where(matching)).all())
    return ids


#: Person numbers looked up per statement (SQLite allows 32,766 parameters).
_LOOKUP = 10_000


def _merge_people(session: Session, people: dict[Key, BitMap]) -> None:
    """Merges each key's new people into its stored bitmap (read, united, written back:
    the watermark's lock keeps any other refresh out meanwhile)."""
    if not people:
        return
    days = sorted({day for day, *_ in people})
    stored = select(
        UsagePeople.day,
        UsagePeople.tool,
        UsagePeople.department,
        UsagePeople.app,
        UsagePeople.people,
    ).where(UsagePeople.day.in_(days))
    for day, tool, department, app, blob in session.execute(stored):
        new = people.get((day, tool, department, app))
        if new is not None:
            new |= BitMap.deserialize(blob)
    rows = []
    for (day, tool, department, app), bitmap in people.items():
        bitmap.run_optimize()
        rows.append(
            {
                "day": day,
                "tool": tool,
                "department": department,
                "app": app,
                "people": bitmap.serialize(),
            }
        )
    table = UsagePeople.__table__
    keys = [column.name for column in table.primary_key.columns]
    _upsert(session, table, rows, keys, [], replaced=("people",))


def _upsert(
    session: Session,
    table: Table,
    rows: list[dict],
    keys: list,
    counts: list,
    replaced: tuple = (),
    latest: str | None = None,
) -> None:
    """Inserts ``rows``; on a key already stored, adds ``counts`` to it, sets
    ``replaced`` to the new values, and moves ``latest`` (a date) forward only; with
    none of them, leaves it. PostgreSQL gets each column as one array (a statement per
    50,000 rows, cheap to plan and send); SQLite, in the same process, the rows one by
    one."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        for start in range(0, len(rows), 50_000):
            some = rows[start : start + 50_000]
            _upsert_arrays(session, table, some, keys, counts, replaced, latest)
        return
    statement = sqlite.insert(table)
    changed = {name: table.c[name] + statement.excluded[name] for name in counts}
    changed |= {name: statement.excluded[name] for name in (*replaced, *filter(None, [latest]))}
    if changed:
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_=changed,
            where=table.c[latest] < statement.excluded[latest] if latest else None,
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    session.execute(statement, rows)


def _upsert_arrays(
    session: Session,
    table: Table,
    rows: list[dict],
    keys: list,
    counts: list,
    replaced: tuple,
    latest: str | None,
):
    new = [*replaced, *filter(None, [latest])]
    columns = [*keys, *counts, *new]
    arrays = ", ".join(
        f"CAST(:{name} AS {_ARRAY_TYPES[type(table.c[name].type).__name__]})" for name in columns
    )
    changed = [f"{n} = {table.name}.{n} + EXCLUDED.{n}" for n in counts]
    changed += [f"{n} = EXCLUDED.{n}" for n in new]
    on_conflict = "DO UPDATE SET " + ", ".join(changed) if changed else "DO NOTHING"
    if latest:
        on_conflict += f" WHERE {table.name}.{latest} < EXCLUDED.{latest}"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - our own names
        f"SELECT * FROM unnest({arrays}) ON CONFLICT ({', '.join(keys)}) {on_conflict}"
    )
    session.execute(text(sql), {name: [row[name] for row in rows] for name in columns})


_ARRAY_TYPES = {
    "Date": "date[]",
    "String": "text[]",
    "Integer": "integer[]",
    "BigInteger": "bigint[]",
    "LargeBinary": "bytea[]",
}


def _insert(session: Session, table: Table):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)

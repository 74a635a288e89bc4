"""Checking each link of both hash chains over a range of sequence numbers, fast.

A link is checked on its own, against the *stored* hash of the row before it:
``record_hash[n] == H(record_hash[n-1] || canonical(n))``. All links valid means the
chain is valid, so ranges are checked independently (in parallel, see ``verify``).

On PostgreSQL the database renders each row's canonical encoding (``gateway.audit.chain``)
as text and this process only hashes it: reading and re-encoding every value in Python
is what made verification slow. A row whose rendering does not give its stored hash is
a *suspect*, checked again the reference way (its values read and encoded in Python);
only that check can call it broken. Suspects that are not broken: rows whose JSON
columns were not stored in canonical form (written before the writer did so, or edited
by hand), floats that PostgreSQL spells differently (``1e+15``), odd strings.

Why the rendering cannot pass a changed row: it is a faithful JSON text of the row's
current values (strings through ``to_json``, times to the microsecond, integers, floats
in their shortest exact form, JSON columns as stored, subject keys through ``to_json``).
If it equals the canonical text the writer hashed, the current values decode to what the
writer encoded, so Python's encoding of them is that same text: the reference check
would pass too.

On SQLite this process renders the rows itself, from the values sqlite3 returns (no
SQLAlchemy rows, which cost ten times the hashing): JSON columns decoded as SQLAlchemy
decodes them, and times respelled from the text SQLite stores (``YYYY-MM-DD
HH:MM:SS.ffffff``, always that form), which is faithful for the same reason: two stored
texts of that form never give one spelling. A value of any other form or type makes the
row a suspect.
"""

from __future__ import annotations

import functools
import hashlib
import json
import json.scanner
from collections.abc import Callable, Iterable

from sqlalchemy import JSON, Float, Integer, String, Text, case, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.engine import Connection

from gateway.audit.chain import (
    FROM_GENESIS,
    LATER_FIELDS,
    OUTCOME_FIELDS,
    RECORD_FIELDS,
    ChainStart,
    json_text,
    outcome_hash,
    record_hash,
    without_later_nulls,
)
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.db import UTCDateTime

#: Suspects read back per query (SQLite allows 999 parameters).
SUSPECTS_PER_QUERY = 500

_exchanges = ExchangeRecord.__table__
_subjects = ExchangeSubject.__table__


def check_range(connection: Connection, lo: int, hi: int, start: ChainStart = FROM_GENESIS):
    """Records ``lo``..``hi`` and their outcomes, in one pass over the rows. Returns, for
    the records, (how many, the last seq, seqs whose link is broken, gaps as (first
    missing, next present)); for the outcomes, (how many, the last outcome_seq, broken
    links as (outcome_seq, seq), gaps as (first missing, next present, its seq)).
    ``start``: where the chains begin (see ``ChainStart``)."""
    previous_seq, previous = record_before(connection, lo, start)
    count, suspects, gaps, outcomes = 0, [], [], []
    sha256 = hashlib.sha256
    for seq, stored, text, number, outcome, outcome_text in rendered_records(connection, lo, hi):
        if text is None or sha256((previous + text).encode()).hexdigest() != stored:
            suspects.append((seq, previous))
        if seq != previous_seq + 1:
            gaps.append((previous_seq + 1, seq))
        if number is not None:
            outcomes.append((number, seq, stored, outcome, outcome_text))
        previous_seq, previous = seq, stored
        count += 1
    records = count, previous_seq if count else None, _broken_records(connection, suspects), gaps
    return records, _check_outcomes(connection, outcomes, start)


def _check_outcomes(connection: Connection, outcomes: list[tuple], start: ChainStart):
    """The links of these outcomes, in outcome order; the one before an outcome is read
    when it is not among them (it belongs to another range, or is gone)."""
    outcomes.sort()
    suspects, gaps, before = [], [], None
    sha256 = hashlib.sha256
    table = _exchanges
    for number, seq, record, stored, text in outcomes:
        if before is None or before[0] != number - 1:
            before = _before(
                connection, table.c.outcome_seq, table.c.outcome_hash, number, start[2:]
            )
        if number != before[0] + 1:
            gaps.append((before[0] + 1, number, seq))
        previous = before[1]
        if text is None or sha256((previous + record + text).encode()).hexdigest() != stored:
            suspects.append((number, previous))
        before = (number, stored or "")
    last = outcomes[-1][0] if outcomes else None
    return len(outcomes), last, _broken_outcomes(connection, suspects), gaps


def record_before(connection: Connection, lo: int, start: ChainStart) -> tuple[int, str]:
    """``(seq, record_hash)`` of the record before ``lo``, else where the chain begins."""
    return _before(connection, _exchanges.c.seq, _exchanges.c.record_hash, lo, start[:2])


def _before(
    connection: Connection, seq_column, hash_column, lo: int, first: tuple[int, str]
) -> tuple[int, str]:
    """The link before ``lo``: the stored row, else where the chain begins (``first``)."""
    row = connection.execute(
        select(seq_column, hash_column).where(seq_column < lo).order_by(seq_column.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else first


def rendered_records(connection: Connection, lo: int, hi: int) -> Iterable[tuple]:
    """(seq, record_hash, canonical text or None, outcome_seq, outcome_hash, the outcome's
    canonical text or None) of records ``lo``..``hi``, in order."""
    if connection.dialect.name == "sqlite":
        return _rendered_here(connection, lo, hi)
    seq, table = _exchanges.c.seq, _exchanges
    keys = _subjects.c.subject_key

    def key_list(dropped: bool):
        # In the primary key's order: sorted as Python sorts wherever the collation
        # agrees (C, C.UTF-8; hex keys in most others), else the row is a suspect.
        # ORDER BY here would cost a sort per record.
        listed = func.array_to_json(func.array_agg(keys).filter(_subjects.c.dropped.is_(dropped)))
        return func.coalesce(cast(listed, Text), _sql("[]"))

    grouped = (
        select(
            _subjects.c.exchange_seq,
            key_list(False).label("sent"),
            key_list(True).label("dropped"),
        )
        .where(_subjects.c.exchange_seq.between(lo, hi))
        .group_by(_subjects.c.exchange_seq)
        .subquery()
    )
    parts = {
        "subject_keys": func.coalesce(grouped.c.sent, _sql("[]")),
        "dropped_subject_keys": func.coalesce(grouped.c.dropped, _sql("[]")),
    }
    text = _bracketed(func.concat_ws(_sql(","), *_spelled(RECORD_FIELDS, parts)))
    # A later field, null in older rows, is left out (as concat_ws leaves out NULL).
    later = {name: cast(table.c[name], Text) for name in LATER_FIELDS}
    outcome = _bracketed(func.concat_ws(_sql(","), *_spelled(OUTCOME_FIELDS, later)))
    statement = (
        select(seq, table.c.record_hash, text, table.c.outcome_seq, table.c.outcome_hash, outcome)
        .select_from(_exchanges.outerjoin(grouped, grouped.c.exchange_seq == seq))
        .where(seq.between(lo, hi))
        .order_by(seq)
    )
    # Floats in their shortest exact form (PostgreSQL 12 on: any positive value).
    connection.exec_driver_sql("SET LOCAL extra_float_digits = 3")
    return _raw(connection, statement)


_JSON_COLUMNS = {c.name for c in _exchanges.columns if isinstance(c.type, JSON)}
_TIME_COLUMNS = {c.name for c in _exchanges.columns if isinstance(c.type, UTCDateTime)}
#: Where the subject lists are among the record's fields (the one dropped follows).
_KEYS_AT = RECORD_FIELDS.index("subject_keys")
_RECORD_COLUMNS = RECORD_FIELDS[:_KEYS_AT] + RECORD_FIELDS[_KEYS_AT + 2 :]
_OUTCOME_COLUMNS = OUTCOME_FIELDS[2:]  # after outcome_seq and seq
_READ_HERE = (
    "SELECT record_hash, outcome_seq, outcome_hash, "  # noqa: S608 - our own column names
    f"{', '.join(_RECORD_COLUMNS + _OUTCOME_COLUMNS)} FROM exchanges "
    "WHERE seq BETWEEN ? AND ? ORDER BY seq"
)
_SUBJECTS_HERE = (
    "SELECT exchange_seq, subject_key, dropped FROM exchange_subjects "
    "WHERE exchange_seq BETWEEN ? AND ? ORDER BY exchange_seq, subject_key"
)


def _rendered_here(connection: Connection, lo: int, hi: int) -> list[tuple]:
    """As ``rendered_records``, rendered in this process from sqlite3's own values."""
    cursor = connection.connection.driver_connection.cursor()
    subjects = iter(cursor.execute(_SUBJECTS_HERE, (lo, hi)).fetchall())
    subject = next(subjects, None)
    record_end, rendered = 3 + len(_RECORD_COLUMNS), []
    keys_at = 3 + _KEYS_AT
    for row in cursor.execute(_READ_HERE, (lo, hi)).fetchall():
        stored, number, outcome, seq = row[:4]
        keys: tuple[list, list] = ([], [])  # sorted: read in the primary key's order
        while subject is not None and subject[0] <= seq:
            if subject[0] == seq:
                keys[1 if subject[2] else 0].append(subject[1])
            subject = next(subjects, None)
        record = [*row[3:keys_at], *keys, *row[keys_at:record_end]]
        outcome_text = None
        if number is not None:
            values = [number, seq, *row[record_end:]]
            outcome_text = _spelled_here(values, OUTCOME_FIELDS, _OUTCOME_CONVERSIONS)
        text = _spelled_here(record, RECORD_FIELDS, _RECORD_CONVERSIONS)
        rendered.append((seq, stored, text, number, outcome, outcome_text))
    return rendered


def _conversions(fields: tuple[str, ...]) -> tuple[tuple[int, Callable], ...]:
    """Where among ``fields`` a stored value is decoded before it is encoded, and how."""
    return tuple(
        (position, _decoded_json if name in _JSON_COLUMNS else _time_text)
        for position, name in enumerate(fields)
        if name in _JSON_COLUMNS or name in _TIME_COLUMNS
    )


def _spelled_here(values: list, fields: tuple[str, ...], conversions) -> str | None:
    """The canonical text of a row's stored values (in ``fields`` order); None (a
    suspect) if one of them is odd."""
    try:
        for position, convert in conversions:
            if values[position] is not None:
                values[position] = convert(values[position])
        return json_text(without_later_nulls(values, fields))
    except (TypeError, ValueError, StopIteration):  # bytes, a malformed time or JSON text
        return None


_scan_json = json.scanner.make_scanner(json.JSONDecoder())


#: JSON texts recur (the same categories, no reasons): each is decoded once. The values
#: are only encoded again, never changed, so one decoded value may serve many rows.
@functools.lru_cache(maxsize=4096)
def _decoded_json(text: str):
    """``json.loads(text)`` without its wrappers in Python (a third of the rendering);
    whitespace around the value, which the writer never stores, makes it a suspect."""
    value, end = _scan_json(text, 0)
    if end != len(text):
        raise ValueError("not one JSON value")
    return value


def _time_text(stored: str) -> str:
    """A time as SQLite stores it (UTC), as the canonical encoding spells it."""
    if len(stored) != 26 or stored[10] != " ":
        raise ValueError(f"not a stored time: {stored!r}")
    return f"{stored[:10]}T{stored[11:]}+00:00"


_RECORD_CONVERSIONS = _conversions(RECORD_FIELDS)
_OUTCOME_CONVERSIONS = _conversions(OUTCOME_FIELDS)


def _spelled(fields: tuple[str, ...], given: dict) -> list:
    """The fields as JSON texts, in order; each run of text columns as one array (one
    function call instead of one each), its brackets trimmed."""
    spelled, run = [], []

    def end_run() -> None:
        if len(run) > 1:
            texts = [_as_text(_exchanges.c[name]) for name in run]
            spelled.append(func.btrim(cast(func.array_to_json(array(texts)), Text), "[]"))
        elif run:
            spelled.append(_as_json(_exchanges.c[run[0]]))
        run.clear()

    for name in fields:
        if name not in given and isinstance(_exchanges.c[name].type, String | UTCDateTime):
            run.append(name)
            continue
        end_run()
        spelled.append(given[name] if name in given else _as_json(_exchanges.c[name]))
    end_run()
    return spelled


def _as_text(column):
    """A text column, or a time as the canonical encoding writes it (unquoted)."""
    if isinstance(column.type, UTCDateTime):
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    return cast(column, Text)


def _as_json(column):
    """SQL that spells the column's value as the canonical encoding does."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        spelled = _sql('"') + _as_text(column) + _sql('"')
    elif isinstance(kind, JSON):
        spelled = cast(column, Text)  # the writer stores canonical JSON
    elif isinstance(kind, Float):  # Python writes 5.0 where PostgreSQL writes 5
        plain = cast(column, Text)
        spelled = case((column == func.trunc(column), plain + _sql(".0")), else_=plain)
    elif isinstance(kind, Integer):
        spelled = cast(column, Text)
    elif isinstance(kind, String):
        spelled = cast(func.to_json(column), Text)
    else:
        raise TypeError(f"no JSON spelling for {column.name} ({kind})")
    return func.coalesce(spelled, _sql("null"))


def _sql(constant: str):
    """A constant of SQL text (only the few of this module: no quotes inside)."""
    return literal_column(f"'{constant}'", Text)


def _bracketed(expression):
    return _sql("[") + expression + _sql("]")


def _raw(connection: Connection, statement) -> Iterable[tuple]:
    """Plain tuples straight from psycopg: SQLAlchemy's rows cost more than the hashing."""
    compiled = statement.compile(dialect=connection.dialect)
    cursor = connection.connection.driver_connection.cursor()
    return cursor.execute(compiled.string, compiled.params).fetchall()


def _broken_records(connection: Connection, suspects: list[tuple[int, str]]) -> list[int]:
    """The reference check of each suspect: its values encoded in Python."""
    broken = []
    for start in range(0, len(suspects), SUSPECTS_PER_QUERY):
        batch = suspects[start : start + SUSPECTS_PER_QUERY]
        seqs = [seq for seq, _ in batch]
        rows = {
            row["seq"]: row
            for row in connection.execute(select(_exchanges).where(_exchanges.c.seq.in_(seqs)))
            .mappings()
            .all()
        }
        keys: dict[int, tuple[list, list]] = {}
        for seq, key, dropped in connection.execute(
            select(_subjects.c.exchange_seq, _subjects.c.subject_key, _subjects.c.dropped).where(
                _subjects.c.exchange_seq.in_(seqs)
            )
        ):
            keys.setdefault(seq, ([], []))[1 if dropped else 0].append(key)
        for seq, previous in batch:
            values = record_values(rows[seq], keys.get(seq, ([], [])))
            if record_hash(previous, values) != values["record_hash"]:
                broken.append(seq)
    return broken


def _broken_outcomes(connection: Connection, suspects: list[tuple[int, str]]) -> list[tuple]:
    broken = []
    for start in range(0, len(suspects), SUSPECTS_PER_QUERY):
        batch = suspects[start : start + SUSPECTS_PER_QUERY]
        column = _exchanges.c.outcome_seq
        statement = select(_exchanges).where(column.in_([number for number, _ in batch]))
        rows = {row["outcome_seq"]: row for row in connection.execute(statement).mappings()}
        for number, previous in batch:
            row = rows[number]
            if outcome_hash(previous, row["record_hash"], row) != row["outcome_hash"]:
                broken.append((number, row["seq"]))
    return broken


def record_values(record, subjects: tuple[list, list]) -> dict:
    """A record's values as the chain covers them, with its subject keys (sent, dropped)."""
    return {
        **record,
        "subject_keys": sorted(subjects[0]),
        "dropped_subject_keys": sorted(subjects[1]),
    }

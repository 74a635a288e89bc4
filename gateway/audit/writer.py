"""Group commit for the exchange log: one writer thread, one transaction for many records.

Requests hand their records to the writer and wait; the writer takes whatever is queued
(up to a batch), extends both hash chains under a lock that every instance shares (a
PostgreSQL advisory lock; SQLite's write lock), commits once, and wakes each waiting
request. Durability per record is the same as committing alone; the cost of a commit
is shared by everyone who arrived meanwhile, including those who arrived while the
writer waited for the lock.

The lock is what bounds throughput across processes, so little happens under it: each
request works out its record's encodings before queueing it, and under the lock only
the sequence numbers and hashes are filled in (three round trips on PostgreSQL).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from gateway.audit.chain import (
    GENESIS,
    OUTCOME_FIELDS,
    RECORD_FIELDS,
    encoded_after,
    json_text,
    outcome_link,
    record_link,
)
from gateway.audit.fitting import check_subject_keys, fit_values
from gateway.audit.models import ExchangeRecord, ExchangeSubject, Outcome
from gateway.db import DEFAULT_TIMEOUT, UNAVAILABLE, make_engine
from gateway.metrics import observe_audit_batch, observe_audit_failure, observe_audit_written

logger = logging.getLogger(__name__)

#: The key of the PostgreSQL advisory lock that serialises chain extensions.
CHAIN_LOCK = 727_001
BATCH_MAX = 1000


class Receipt:
    """What a request waits on until the writer settles it, once: with the sequence
    number, or with the error that kept the entry out of the log. A lock, not a
    ``Future``: with 32 request threads in a process, a Future's condition took about
    8 us more CPU per record (of about 25 for handing records over and back).

    A request that stops waiting leaves word (:meth:`if_written_later`) of what to do
    should its entry be written after all; one that does not wait at all says at the
    start (``on_error``) what to do should the entry not be written."""

    __slots__ = ("_error", "_late", "_on_error", "_settled", "_value")

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        self._settled = threading.Lock()
        self._settled.acquire()
        self._value: int | None = None
        self._error: BaseException | None = None
        self._on_error = on_error
        #: Holds the callback of a request that gave up; popped (atomically) by whichever
        #: of the writer and the request sees both the callback and the result.
        self._late: list[Callable[[int], None]] = []

    def set_result(self, value: int) -> None:
        self._value = value
        self._settled.release()
        if self._late:
            self._run_late()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._settled.release()
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:  # the writer goes on settling the others
                logger.exception("could not act on an audit entry not written")

    def result(self, timeout: float) -> int:
        """The sequence number; raises the writer's error, or TimeoutError."""
        if not self._settled.acquire(timeout=timeout):
            raise TimeoutError(f"not written within {timeout} s")
        self._settled.release()
        if self._error is not None:
            raise self._error
        return self._value

    def if_written_later(self, callback: Callable[[int], None]) -> None:
        """Call ``callback`` with the sequence number if the entry is (or was meanwhile)
        written; it runs once, in the writer's thread or in this one."""
        self._late.append(callback)
        if self._settled.acquire(blocking=False):  # settled since the wait ended
            self._settled.release()
            if self._error is None:
                self._run_late()

    def _run_late(self) -> None:
        try:
            callback = self._late.pop()
        except IndexError:  # the other side took it
            return
        try:
            callback(self._value)
        except Exception:  # the writer goes on settling the others
            logger.exception("could not act on exchange %s written late", self._value)


@dataclass
class NewRecord:
    """A record to append; ``outcome`` set when the exchange is already over (a refusal)."""

    fields: dict
    subject_keys: list[str]
    dropped_keys: list[str]
    outcome: dict | None = None
    receipt: Receipt = field(default_factory=Receipt)


@dataclass
class Completion:
    seq: int
    outcome: dict
    receipt: Receipt = field(default_factory=Receipt)


@dataclass
class Probe:
    """Writes nothing: settled once the writer has taken the chain lock and committed, so
    that readiness can tell that the log can be written now."""

    receipt: Receipt = field(default_factory=Receipt)


Entry = NewRecord | Completion | Probe
#: Queued by close(): the writer finishes what came before it and stops.
_STOP = object()


class AuditWriter:
    def __init__(self, engine: Engine) -> None:
        """``engine``: from :func:`audit_engine`."""
        self._engine = engine
        self._queue: queue.SimpleQueue[_Prepared] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._kept = None  # PostgreSQL: the writer thread's connection
        self._stopping = False

    def close(self) -> None:
        """Finish what is queued, stop the thread, and give back the connections."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
        self._engine.dispose()

    def submit(self, entry: Entry) -> Receipt:
        """Queue ``entry``, its encodings worked out here, in the caller's thread (so, in
        production, in parallel across processes, and never under the chain lock)."""
        try:
            prepared = _prepare(entry, self._engine.dialect.name == "postgresql")
        except Exception as exc:  # e.g. a value the chain cannot encode: fail closed
            observe_audit_failure("invalid")
            entry.receipt.set_exception(exc)
            return entry.receipt
        self._ensure_running()
        self._queue.put(prepared)
        return entry.receipt

    def _ensure_running(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="audit-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        self._stopping = False
        while not self._stopping:
            batch = [self._queue.get()]
            if batch[0] is _STOP:
                break
            self._take_queued(batch)
            self._write(batch)
        self._give_back_connection()

    def _take_queued(self, batch: list[_Prepared]) -> None:
        """Adds what has been queued meanwhile to ``batch`` (up to BATCH_MAX)."""
        while len(batch) < BATCH_MAX and not self._stopping:
            try:
                prepared = self._queue.get_nowait()
            except queue.Empty:
                return
            if prepared is _STOP:
                self._stopping = True
            else:
                batch.append(prepared)

    def _write(self, batch: list[_Prepared]) -> None:
        """Commits ``batch``, and what arrives while it waits for the chain lock. If the
        database refuses the batch, each entry is tried alone: one entry the database
        refuses must not fail the requests of others."""
        asked = time.perf_counter()
        try:
            results, locked = self._commit(batch, gather=True)
        except Exception as exc:
            if len(batch) == 1 or _unavailable(exc):  # alone, each would fail the same
                logger.exception("could not write %d audit entries", len(batch))
                _fail(batch, exc)
            else:
                logger.warning("a batch of %d audit entries failed: each alone", len(batch))
                self._write_each_alone(batch)
            return
        observe_audit_batch(len(batch), locked - asked, time.perf_counter() - locked)
        _count_written(batch)
        for prepared, result in zip(batch, results, strict=True):
            prepared.entry.receipt.set_result(result)

    def _write_each_alone(self, batch: list[_Prepared]) -> None:
        """One transaction per entry, each from the chain heads as the last one left them:
        a refused entry takes no sequence number and leaves no gap in either chain."""
        for position, prepared in enumerate(batch):
            try:
                [result], _ = self._commit([prepared], gather=False)
            except Exception as exc:
                logger.exception("the database refused an audit entry")
                if _unavailable(exc):
                    _fail(batch[position:], exc)
                    return
                observe_audit_failure("refused")
                prepared.entry.receipt.set_exception(exc)
            else:
                _count_written([prepared])
                prepared.entry.receipt.set_result(result)

    def _commit(self, batch: list[_Prepared], gather: bool) -> tuple[list[int], float]:
        """Writes ``batch`` in one transaction (with ``gather``, and what was queued while
        the lock was awaited); the sequence numbers, and when the lock was had."""
        if self._engine.dialect.name == "postgresql":
            return self._write_to_postgresql(batch, gather)
        return self._write_to_sql(batch, gather)

    def _write_to_sql(self, batch: list[_Prepared], gather: bool) -> tuple[list[int], float]:
        """SQLite: its write lock is the chain lock, taken at BEGIN (see audit_engine)."""
        with self._engine.begin() as connection:
            locked = time.perf_counter()
            heads = connection.execute(_HEADS).one()
            if gather:
                self._take_queued(batch)
            return _ChainExtension(heads, _SqlTables(connection)).write(batch), locked

    def _write_to_postgresql(
        self, prepared: list[_Prepared], gather: bool
    ) -> tuple[list[int], float]:
        """Three round trips under the lock: BEGIN, the lock and the heads at once (the
        heads read by a statement after the lock, so they include every batch before),
        prepared statements sent together in a pipeline; the rows in one statement;
        COMMIT. The writer keeps its connection for that (in autocommit mode, so that
        BEGIN is ours to send)."""
        for attempt in (1, 2):
            began = False
            try:
                connection = self._connection()
                cursor = connection.cursor()
                with cursor:
                    with connection.pipeline():
                        cursor.execute("BEGIN")
                        cursor.execute(_TAKE_CHAIN_LOCK, prepare=True)
                        cursor.execute(_READ_HEADS, prepare=True)
                    heads = cursor.fetchone()
                    began = True
                    locked = time.perf_counter()
                    if gather:  # those that came during the wait for the lock
                        self._take_queued(prepared)
                    results = _ChainExtension(heads, _PostgresqlTables(cursor)).write(prepared)
                    cursor.execute("COMMIT")
                return results, locked
            except Exception as exc:
                self._roll_back_or_drop(exc)
                # A connection found closed before the rows were sent: nothing was
                # written, so trying again on a new one is safe (what pool_pre_ping did).
                if began or attempt == 2 or not isinstance(exc, psycopg.OperationalError):
                    raise
        raise AssertionError("unreachable")

    def _roll_back_or_drop(self, error: Exception) -> None:
        """Keeps the connection if only the transaction failed (the database refused a
        row): entries tried alone then cost no new connection each."""
        if self._kept is not None and not _unavailable(error):
            try:
                self._kept.driver_connection.execute("ROLLBACK")
                return
            except psycopg.Error:
                pass
        self._drop_connection()

    def _connection(self):
        if self._kept is None:
            self._kept = self._engine.raw_connection()
            self._kept.driver_connection.autocommit = True
        return self._kept.driver_connection

    def _drop_connection(self) -> None:
        if self._kept is not None:
            self._kept.invalidate()
            self._kept = None

    def _give_back_connection(self) -> None:
        if self._kept is not None:
            try:
                self._kept.driver_connection.autocommit = False
                self._kept.close()
            except Exception:
                self._drop_connection()
            self._kept = None


def _unavailable(error: Exception) -> bool:
    """The database could not be reached in time (rather than refusing what it got)."""
    return isinstance(error, _UNAVAILABLE)


_UNAVAILABLE = (*UNAVAILABLE, psycopg.OperationalError, psycopg.InterfaceError)


def _fail(batch: list[_Prepared], error: Exception) -> None:
    """Every waiting request must learn that its entry was not written."""
    entries = sum(_kind(prepared.entry) is not None for prepared in batch)
    observe_audit_failure("unavailable" if _unavailable(error) else "refused", entries)
    for prepared in batch:
        prepared.entry.receipt.set_exception(error)


def _count_written(batch: list[_Prepared]) -> None:
    kinds = Counter(_kind(prepared.entry) for prepared in batch)
    for kind, entries in kinds.items():
        if kind is not None:
            observe_audit_written(kind, entries)


def _kind(entry: Entry) -> str | None:
    """How the entries written are counted; a probe writes nothing."""
    if isinstance(entry, Completion):
        return "completion"
    if isinstance(entry, NewRecord):
        return "refusal" if entry.outcome is not None else "record"
    return None


def chain_heads(executor: Connection | Session) -> tuple[tuple[int, str], tuple[int, str]]:
    """The last ``(seq, hash)`` of the record chain and of the outcome chain."""
    return _heads(executor.execute(_HEADS).one())


def _heads(row) -> tuple[tuple[int, str], tuple[int, str]]:
    """A row of ``_HEADS`` as the heads of both chains (an empty chain: 0 and GENESIS)."""
    return (row[0] or 0, row[1] or GENESIS), (row[2] or 0, row[3] or GENESIS)


def _head(seq_column, hash_column):
    last = select(seq_column, hash_column).where(seq_column.is_not(None))
    last = last.order_by(seq_column.desc()).limit(1).subquery()
    return select(last.c[0]).scalar_subquery(), select(last.c[1]).scalar_subquery()


#: Both heads in one round trip (each an index lookup).
_HEADS = select(
    *_head(ExchangeRecord.seq, ExchangeRecord.record_hash),
    *_head(ExchangeRecord.outcome_seq, ExchangeRecord.outcome_hash),
)
#: Prepared once per connection: planned every time, the heads cost 0.3 ms of planning
#: per batch under the lock, two to three times their execution.
_TAKE_CHAIN_LOCK = f"SELECT pg_advisory_xact_lock({CHAIN_LOCK})"
_READ_HEADS = str(
    _HEADS.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
)

_EXCHANGE_COLUMNS = tuple(column.key for column in ExchangeRecord.__table__.columns)
#: Set under the chain lock; everything else of a row is ready before it.
_CHAINED = ("seq", "record_hash", "outcome", "outcome_seq", "outcome_hash")
_OUTCOME_VALUES = tuple(name for name in OUTCOME_FIELDS if name not in ("outcome_seq", "seq"))

#: PostgreSQL: a batch's records and their subjects in one statement, each table's rows
#: one JSON document (a JSON column's value is stored as written: in canonical form).
_INSERT_JSON = """
WITH records AS (
    INSERT INTO exchanges SELECT * FROM json_populate_recordset(NULL::exchanges, %s::json)
)
INSERT INTO exchange_subjects
SELECT * FROM json_populate_recordset(NULL::exchange_subjects, %s::json)
"""
_PENDING = "SELECT seq, record_hash FROM exchanges WHERE seq = ANY(%s) AND outcome_seq IS NULL"
_COMPLETED = (*_OUTCOME_VALUES, "outcome", "outcome_seq", "outcome_hash")
_SET_COMPLETED = ", ".join(f"{name} = c.{name}" for name in _COMPLETED)
_COMPLETE_JSON = (
    f"UPDATE exchanges SET {_SET_COMPLETED} "  # noqa: S608 - our own column names
    "FROM json_populate_recordset(NULL::exchanges, %s::json) AS c "
    "WHERE exchanges.seq = c.seq AND exchanges.outcome_seq IS NULL"
)


@dataclass
class _Prepared:
    """An entry with all that does not depend on its place in the chains worked out."""

    entry: Entry
    #: The canonical encodings after the sequence numbers (see ``chain.encoded_after``).
    record_rest: bytes = b""
    outcome_rest: bytes | None = None
    #: The row's other columns: a dict, or (PostgreSQL) the inside of its JSON object.
    row: dict | str | None = None
    #: (key, dropped) or (PostgreSQL) the inside of each one's JSON object but the seq.
    subjects: list = field(default_factory=list)


def _prepare(entry: Entry, as_json: bool) -> _Prepared:
    """Fits the entry's values to their columns (see ``gateway.audit.fitting``), then
    encodes them."""
    prepared = _Prepared(entry)
    if isinstance(entry, Probe):
        return prepared
    if entry.outcome is not None:
        entry.outcome = fit_values(entry.outcome)
        prepared.outcome_rest = encoded_after(entry.outcome, OUTCOME_FIELDS, 2)
    if isinstance(entry, Completion):
        return prepared
    entry.fields = fit_values(entry.fields)
    check_subject_keys([*entry.subject_keys, *entry.dropped_keys])
    outcome = entry.outcome
    sent, dropped = set(entry.subject_keys), set(entry.dropped_keys)
    covered = entry.fields | {
        "subject_keys": sorted(sent),
        "dropped_subject_keys": sorted(dropped),
    }
    prepared.record_rest = encoded_after(covered, RECORD_FIELDS, 1)
    subjects = [(key, key in dropped) for key in sorted(sent | dropped)]
    values = entry.fields
    if outcome is not None:
        values = values | {name: outcome.get(name) for name in _OUTCOME_VALUES}
    if as_json:  # a column left out is NULL, as json_populate_recordset fills it
        prepared.row = json_text(values)[1:-1]
        prepared.subjects = [_SUBJECT_JSON[gone] % json_text(key) for key, gone in subjects]
    else:
        prepared.row, prepared.subjects = _NULL_ROW | values, subjects
    return prepared


#: Every column a chain extension does not set, NULL unless given.
_NULL_ROW = dict.fromkeys(name for name in _EXCHANGE_COLUMNS if name not in _CHAINED)
#: The inside of a subject's JSON object but its seq, by whether it was dropped.
_SUBJECT_JSON = {False: '"dropped":false,"subject_key":%s', True: '"dropped":true,"subject_key":%s'}


class _ChainExtension:
    """Appends one batch to both chains, from the heads read under the lock: only what
    depends on them is done here."""

    def __init__(self, heads, tables: _PostgresqlTables | _SqlTables) -> None:
        self._tables = tables
        (self._seq, self._hash), (self._outcome_seq, self._outcome_hash) = _heads(heads)

    def write(self, batch: list[_Prepared]) -> list[int]:
        rows, subjects, completions, results = [], [], [], []
        as_json = self._tables.as_json
        for prepared in batch:
            entry = prepared.entry
            if isinstance(entry, Probe):
                results.append(0)
                continue
            if isinstance(entry, Completion):
                completions.append(prepared)
                results.append(entry.seq)
                continue
            self._seq += 1
            self._hash = record_link(self._hash, self._seq, prepared.record_rest)
            chained = {"seq": self._seq, "record_hash": self._hash, "outcome": Outcome.PENDING}
            chained.update(outcome_seq=None, outcome_hash=None)
            if prepared.outcome_rest is not None:
                chained.update(self._complete(self._seq, self._hash, prepared.outcome_rest))
            if as_json:
                rows.append(f"{{{json_text(chained)[1:-1]},{prepared.row}}}")
                subjects += [f'{{"exchange_seq":{self._seq},{s}}}' for s in prepared.subjects]
            else:
                rows.append(prepared.row | chained)
                subjects += [
                    {"exchange_seq": self._seq, "subject_key": key, "dropped": dropped}
                    for key, dropped in prepared.subjects
                ]
            results.append(self._seq)
        if rows:
            self._tables.insert(rows, subjects)
        if completions:
            self._write_completions(completions)
        return results

    def _complete(self, seq: int, record: str, rest: bytes) -> dict:
        self._outcome_seq += 1
        self._outcome_hash = outcome_link(self._outcome_hash, record, self._outcome_seq, seq, rest)
        return {
            "outcome": Outcome.COMPLETED,
            "outcome_seq": self._outcome_seq,
            "outcome_hash": self._outcome_hash,
        }

    def _write_completions(self, completions: list[_Prepared]) -> None:
        """All of the batch's completions: one query for their records, one statement
        for their outcomes."""
        pending = self._tables.pending([prepared.entry.seq for prepared in completions])
        updates = []
        for prepared in completions:
            seq = prepared.entry.seq
            record = pending.pop(seq, None)  # popped: a second completion is refused too
            if record is None:
                raise LookupError(f"exchange {seq} is missing or already completed")
            values = {name: prepared.entry.outcome.get(name) for name in _OUTCOME_VALUES}
            chained = self._complete(seq, record, prepared.outcome_rest)
            updates.append({"seq": seq} | values | chained)
        self._tables.complete(updates)


class _PostgresqlTables:
    """Rows as JSON documents, one statement each, on the writer's own cursor."""

    as_json = True

    def __init__(self, cursor) -> None:
        self._cursor = cursor

    def insert(self, rows: list[str], subjects: list[str]) -> None:
        self._cursor.execute(_INSERT_JSON, (f"[{','.join(rows)}]", f"[{','.join(subjects)}]"))

    def pending(self, seqs: list[int]) -> dict[int, str]:
        self._cursor.execute(_PENDING, (seqs,))
        return dict(self._cursor.fetchall())

    def complete(self, updates: list[dict]) -> None:
        self._cursor.execute(_COMPLETE_JSON, (json_text(updates),))
        if self._cursor.rowcount != len(updates):
            raise LookupError("an exchange was completed meanwhile")


class _SqlTables:
    """Through SQLAlchemy (SQLite), on the transaction's connection."""

    as_json = False

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def insert(self, rows: list[dict], subjects: list[dict]) -> None:
        self._connection.execute(insert(ExchangeRecord.__table__), rows)
        if subjects:
            self._connection.execute(insert(ExchangeSubject.__table__), subjects)

    def pending(self, seqs: list[int]) -> dict[int, str]:
        table = ExchangeRecord.__table__
        statement = select(table.c.seq, table.c.record_hash).where(
            table.c.seq.in_(seqs), table.c.outcome_seq.is_(None)
        )
        return dict(self._connection.execute(statement).all())

    def complete(self, updates: list[dict]) -> None:
        table = ExchangeRecord.__table__
        statement = (
            update(table)
            .where(table.c.seq == bindparam("key"))
            .values({name: bindparam(name) for name in updates[0] if name != "seq"})
        )
        self._connection.execute(statement, [u | {"key": u["seq"]} for u in updates])


def audit_engine(app_engine: Engine, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """The engine the writer uses: the app's on PostgreSQL (the advisory lock serialises
    writers; the wait for it is bounded by the statement timeout); on SQLite one of its
    own that takes the write lock at BEGIN, waiting ``timeout`` seconds at most, so
    reading the chain head and appending to it cannot interleave with another process,
    and whose commits reach the disk before they return (``synchronous=FULL``; the
    app's connections keep WAL's ``NORMAL``): a call is forwarded once its record is
    committed, so a power cut must not take back a record whose call went out."""
    if app_engine.dialect.name != "sqlite":
        return app_engine
    engine = make_engine(app_engine.url.render_as_string(hide_password=False), timeout=timeout)

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection, record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA synchronous=FULL")

    @event.listens_for(engine, "begin")
    def _begin_immediately(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine

"""Group commit for the exchange log: one writer thread, one transaction for many records.

Requests hand their records to the writer and wait; the writer takes whatever is queued
(up to a batch), extends both hash chains under a lock that every instance shares (a
PostgreSQL advisory lock; SQLite's write lock), commits once, and wakes each waiting
request. Durability per record is the same as committing alone; the cost of a commit
is shared by everyone who arrived meanwhile.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import JSON, event, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from gateway.audit.chain import GENESIS, json_text, outcome_hash, record_hash
from gateway.audit.models import ExchangeRecord, ExchangeSubject, Outcome
from gateway.db import make_engine

logger = logging.getLogger(__name__)

#: The key of the PostgreSQL advisory lock that serialises chain extensions.
CHAIN_LOCK = 727_001
BATCH_MAX = 1000


@dataclass
class NewRecord:
    """A record to append; ``outcome`` set when the exchange is already over (a refusal)."""

    fields: dict
    subject_keys: list[str]
    dropped_keys: list[str]
    outcome: dict | None = None
    future: Future = field(default_factory=Future)


@dataclass
class Completion:
    seq: int
    outcome: dict
    future: Future = field(default_factory=Future)


Entry = NewRecord | Completion
#: Queued by close(): the writer finishes what came before it and stops.
_STOP = object()


class AuditWriter:
    def __init__(self, engine: Engine) -> None:
        """``engine``: from :func:`audit_engine`."""
        self._engine = engine
        self._queue: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Finish what is queued, stop the thread, and give back the connections."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
        self._engine.dispose()

    def submit(self, entry: Entry) -> Future:
        self._ensure_running()
        self._queue.put(entry)
        return entry.future

    def _ensure_running(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="audit-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH_MAX and batch[-1] is not _STOP:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = batch[-1] is _STOP
            if entries := [entry for entry in batch if entry is not _STOP]:
                self._write(entries)
            if stop:
                return

    def _write(self, batch: list[Entry]) -> None:
        try:
            with self._engine.begin() as connection:
                results = _ChainExtension(connection).write(batch)
        except Exception as exc:  # every waiting request must learn the batch failed
            logger.exception("could not write %d audit entries", len(batch))
            for entry in batch:
                entry.future.set_exception(exc)
            return
        for entry, result in zip(batch, results, strict=True):
            entry.future.set_result(result)


def chain_heads(executor: Connection | Session) -> tuple[tuple[int, str], tuple[int, str]]:
    """The last ``(seq, hash)`` of the record chain and of the outcome chain."""

    def head(seq_column, hash_column) -> tuple[int, str]:
        row = executor.execute(
            select(seq_column, hash_column)
            .where(seq_column.is_not(None))
            .order_by(seq_column.desc())
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else (0, GENESIS)

    return (
        head(ExchangeRecord.seq, ExchangeRecord.record_hash),
        head(ExchangeRecord.outcome_seq, ExchangeRecord.outcome_hash),
    )


class _ChainExtension:
    """Appends one batch to both chains inside the caller's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
        (self._seq, self._hash), (self._outcome_seq, self._outcome_hash) = chain_heads(connection)

    def write(self, batch: list[Entry]) -> list[int]:
        records, subjects, completions, results = [], [], [], []
        for entry in batch:
            if isinstance(entry, NewRecord):
                row = self._append_record(entry)
                records.append(row)
                subjects += self._subject_rows(row["seq"], entry)
                if entry.outcome is not None:
                    row.update(self._complete(row["seq"], row["record_hash"], entry.outcome))
                results.append(row["seq"])
            else:
                completions.append(entry)
                results.append(entry.seq)
        if records:
            self._insert(ExchangeRecord.__table__, [_full(row) for row in records])
        if subjects:
            self._insert(ExchangeSubject.__table__, subjects)
        for completion in completions:
            self._write_completion(completion)
        return results

    def _insert(self, table, rows: list[dict]) -> None:
        """PostgreSQL: COPY, since row-by-row inserts cost more than all the hashing."""
        if self._connection.dialect.name != "postgresql":
            self._connection.execute(insert(table), rows)
            return
        columns = [column.key for column in table.columns]
        as_json = {column.key for column in table.columns if isinstance(column.type, JSON)}
        cursor = self._connection.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copyable(row[c], c in as_json) for c in columns])

    def _append_record(self, entry: NewRecord) -> dict:
        self._seq += 1
        fields = {
            **entry.fields,
            "seq": self._seq,
            "subject_keys": sorted(set(entry.subject_keys)),
            "dropped_subject_keys": sorted(set(entry.dropped_keys)),
        }
        self._hash = record_hash(self._hash, fields)
        row = {k: v for k, v in fields.items() if k not in ("subject_keys", "dropped_subject_keys")}
        return {**row, "record_hash": self._hash, "outcome": Outcome.PENDING}

    @staticmethod
    def _subject_rows(seq: int, entry: NewRecord) -> list[dict]:
        dropped = set(entry.dropped_keys)
        return [
            {"exchange_seq": seq, "subject_key": key, "dropped": key in dropped}
            for key in sorted(set(entry.subject_keys) | dropped)
        ]

    def _complete(self, seq: int, record: str, outcome: dict) -> dict:
        self._outcome_seq += 1
        values = {**outcome, "outcome_seq": self._outcome_seq, "seq": seq}
        self._outcome_hash = outcome_hash(self._outcome_hash, record, values)
        return {
            **outcome,
            "outcome": Outcome.COMPLETED,
            "outcome_seq": self._outcome_seq,
            "outcome_hash": self._outcome_hash,
        }

    def _write_completion(self, completion: Completion) -> None:
        record = self._connection.execute(
            select(ExchangeRecord.record_hash).where(
                ExchangeRecord.seq == completion.seq, ExchangeRecord.outcome_seq.is_(None)
            )
        ).scalar()
        if record is None:
            raise LookupError(f"exchange {completion.seq} is missing or already completed")
        values = self._complete(completion.seq, record, completion.outcome)
        self._connection.execute(
            update(ExchangeRecord).where(ExchangeRecord.seq == completion.seq).values(**values)
        )


def _full(row: dict) -> dict:
    """Every row of a multi-row INSERT names the same columns: pending ones have no outcome."""
    return {column.key: None for column in ExchangeRecord.__table__.columns} | row


def _copyable(value, is_json: bool):
    if is_json:
        return json_text(value)
    return value.value if isinstance(value, Outcome) else value


def audit_engine(app_engine: Engine) -> Engine:
    """The engine the writer uses: the app's on PostgreSQL (the advisory lock serialises
    writers); on SQLite one of its own that takes the write lock at BEGIN, so reading the
    chain head and appending to it cannot interleave with another process."""
    if app_engine.dialect.name != "sqlite":
        return app_engine
    engine = make_engine(app_engine.url.render_as_string(hide_password=False))

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection, record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediately(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine

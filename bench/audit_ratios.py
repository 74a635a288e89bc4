"""The exchange log's throughput as ratios measured in one run, on SQLite and PostgreSQL.

Absolute records/s moved by 2x between machines of one kind, so the goals are ratios to
plain work on the same rows, measured side by side in interleaved rounds:

1. **Appends.** *Chained*: PROCESSES processes of THREADS request threads each (as
   `gatehouse serve --workers P --threads T` runs), each process with the real
   ``AuditWriter`` (group commit, the chain lock, both hash chains), every thread
   recording exchanges one after another and waiting for each commit. *Plain*: the same
   rows (same columns, same values but for made-up hashes of the same length) inserted by
   the same number of processes with the same statements, in batches of exactly the
   sizes the chained run's writers committed (so as many commits), without the chain,
   its lock or the heads. Goal: chained >= 0.5x plain.
2. **Verification.** ``gateway.audit.verify`` of the whole log (as `gatehouse audit
   verify`) and of the last ``MAX_RANGE`` records (as the portal's chain page), against a
   plain read of the same rows: the columns the chains cover and the subject keys, in
   the same ranges, on as many connections at once, fetched whole from the driver, with
   nothing hashed or compared. Goal: verify >= 0.5x plain.

Each line also prints the writers' use of the chain lock (entries per batch, time held
per batch), from which ``docs/operators.md`` works out the capacity of one chain.

    .venv/bin/python bench/audit_ratios.py [--postgresql URL] [--sqlite PATH]
        [--processes 2] [--threads 4] [--scaling 2x16,4x8] [--records 200000] [--rounds 3]

Uses databases of its own (default: PostgreSQL gatehouse_bench_ratios and
gatehouse_bench_ratios_log, made if missing; SQLite files in a temporary folder), which
it empties: never point it at a gateway's database.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from audit_log import LockUse, record
from sqlalchemy import JSON, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from gateway.audit.chain import OUTCOME_FIELDS, RECORD_FIELDS, json_text
from gateway.audit.models import ExchangeRecord, ExchangeSubject, Outcome
from gateway.audit.verify import CHUNK, PARALLEL_FROM, verify
from gateway.audit.writer import _INSERT_JSON, AuditWriter, audit_engine
from gateway.db import UTCDateTime, make_engine
from gateway.migrate import upgrade
from gateway.portal.audit_chain import MAX_RANGE
from gateway.server import freeze_what_lives

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/gatehouse_bench_ratios"
#: Records each request thread writes in one measurement.
PER_THREAD = 400
GOAL = 0.5


# --- appends -----------------------------------------------------------------------------


class SizedWriter(AuditWriter):
    """The real writer, noting the size of each batch it commits (for the plain run)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.sizes: list[int] = []

    def _commit(self, batch, gather):
        results, locked = super()._commit(batch, gather)
        self.sizes.append(len(results))
        return results, locked


def _chained_process(url: str, index: int, threads: int, per_thread: int, ready, go, out) -> None:
    writer = SizedWriter(audit_engine(make_engine(url, pool_size=2)))
    writer.submit(record(-1 - index)).result(timeout=60)  # connected, writer thread running
    started = threading.Event()
    first = index * threads * per_thread

    def requests(records) -> None:
        started.wait()
        for new in records:
            writer.submit(new).result(timeout=60)

    workers = [
        threading.Thread(
            target=requests,
            args=([record(first + t * per_thread + n) for n in range(per_thread)],),
        )
        for t in range(threads)
    ]
    for worker in workers:
        worker.start()
    freeze_what_lives()  # as a serve worker does
    ready.wait(timeout=120)
    go.wait(timeout=120)
    writer.sizes.clear()
    before = LockUse.so_far()
    started.set()
    for worker in workers:
        worker.join()
    out.put((index, writer.sizes, tuple(LockUse.so_far() - before)))
    writer.close()


def _plain_process(url: str, index: int, sizes: list[int], ready, go, out) -> None:
    """Inserts the rows the chained process ``index`` wrote, in batches of ``sizes``."""
    engine = make_engine(url, pool_size=2)
    postgresql = engine.dialect.name == "postgresql"
    total = sum(sizes)
    first = index * total
    records = [record(first + n) for n in range(total)]
    seqs = iter(range(1_000_000_000 * (index + 1), 1_000_000_000 * (index + 2)))
    with engine.connect() as connection:  # connected, as the writer was
        connection.execute(select(1))
        connection.commit()
        driver = connection.connection.driver_connection
        freeze_what_lives()
        ready.wait(timeout=120)
        go.wait(timeout=120)
        position = 0
        for size in sizes:
            batch = records[position : position + size]
            position += size
            rows, subjects = _plain_rows(batch, seqs, postgresql)
            if postgresql:  # on the driver's connection, as the writer sends it
                driver.execute(_INSERT_JSON, (rows, subjects))
                driver.commit()
            else:  # through SQLAlchemy, as the writer sends it
                connection.execute(insert(ExchangeRecord.__table__), rows)
                connection.execute(insert(ExchangeSubject.__table__), subjects)
                connection.commit()
    out.put((index, [], tuple(LockUse())))
    engine.dispose()


def _plain_rows(batch, seqs, as_json: bool):
    """The rows the writer would store for ``batch``: every column, hashes made up."""
    rows, subjects = [], []
    for new in batch:
        seq = next(seqs)
        made_up = hashlib.sha256(b"%d" % seq).hexdigest()
        row = new.fields | new.outcome
        row.update(
            seq=seq,
            record_hash=made_up,
            outcome=Outcome.COMPLETED.value,
            outcome_seq=seq,
            outcome_hash=made_up,
        )
        rows.append(row)
        keys = sorted(new.subject_keys)
        subjects += [{"exchange_seq": seq, "subject_key": k, "dropped": False} for k in keys]
    if as_json:
        return json_text(rows), json_text(subjects)
    return rows, subjects


def run_processes(target, args_of, processes: int) -> tuple[float, list, LockUse]:
    """Starts ``processes`` processes of ``target(*args_of(i), ready, go, out)``, lets them
    go together once all are ready, and times them until each has reported."""
    context = multiprocessing.get_context("spawn")
    ready, go, out = context.Barrier(processes + 1), context.Event(), context.Queue()
    children = [
        context.Process(target=target, args=(*args_of(i), ready, go, out)) for i in range(processes)
    ]
    for child in children:
        child.start()
    ready.wait(timeout=180)
    began = time.perf_counter()
    go.set()
    reports = sorted(out.get(timeout=600) for _ in children)
    seconds = time.perf_counter() - began
    for child in children:
        child.join()
    if any(child.exitcode for child in children):
        raise RuntimeError(f"a process of {target.__name__} failed")
    lock = sum((LockUse(*report[2]) for report in reports), LockUse())
    return seconds, [report[1] for report in reports], lock


def empty(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # TRUNCATE fires no row trigger
            connection.execute(text("TRUNCATE exchange_subjects, exchanges"))
        else:
            connection.execute(text("DELETE FROM exchange_subjects"))
            connection.execute(text("DELETE FROM exchanges"))


def _check_rows(engine: Engine, expected: int) -> None:
    with engine.connect() as connection:
        found = connection.scalar(select(func.count()).select_from(ExchangeRecord))
    if found != expected:
        raise RuntimeError(f"{found} rows written, not {expected}")


def appends_round(url: str, engine: Engine, processes: int, threads: int):
    """(chained records/s, plain records/s, chained lock use) of one round; the plain run
    follows the chained one, whose batch sizes it repeats. Each starts on an empty log."""
    empty(engine)
    seconds, sizes, lock = run_processes(
        _chained_process, lambda i: (url, i, threads, PER_THREAD), processes
    )
    chained = processes * threads * PER_THREAD / seconds
    _check_rows(engine, processes * threads * PER_THREAD + processes)  # with the first ones
    empty(engine)
    seconds, _, _ = run_processes(_plain_process, lambda i: (url, i, sizes[i]), processes)
    plain = sum(map(sum, sizes)) / seconds
    _check_rows(engine, sum(map(sum, sizes)))
    return chained, plain, lock


# --- verification ------------------------------------------------------------------------

_COVERED = sorted(
    {*RECORD_FIELDS, *OUTCOME_FIELDS, "record_hash", "outcome_hash"}
    - {"subject_keys", "dropped_subject_keys"}
)
#: Read as text on PostgreSQL, as sqlite3 returns them: no JSON or time decoded in Python.
_AS_TEXT = {
    c.name for c in ExchangeRecord.__table__.columns if isinstance(c.type, JSON | UTCDateTime)
}


def _plain_statements(postgresql: bool) -> tuple[str, str]:
    columns = [f"{c}::text" if postgresql and c in _AS_TEXT else c for c in _COVERED]
    records = (
        f"SELECT {', '.join(columns)} FROM exchanges "
        "WHERE seq BETWEEN {lo} AND {hi} ORDER BY seq"
    )
    subjects = (
        "SELECT exchange_seq, subject_key, dropped FROM exchange_subjects "
        "WHERE exchange_seq BETWEEN {lo} AND {hi} ORDER BY exchange_seq, subject_key"
    )
    return records, subjects


def plain_read(engine: Engine, within: tuple[int, int] | None, workers: int | None) -> int:
    """Reads the rows verify reads, as verify splits them, fetched whole from the driver
    (JSON and times as text, as SQLite stores them)."""
    with engine.connect() as connection:
        statement = select(func.min(ExchangeRecord.seq), func.max(ExchangeRecord.seq))
        statement = statement.add_columns(func.count(ExchangeRecord.seq))
        if within is not None:
            statement = statement.where(ExchangeRecord.seq.between(*within))
        first, last, count = connection.execute(statement).one()
    if workers is None:
        workers = (os.cpu_count() or 1) + 1 if count >= PARALLEL_FROM else 1
    ranges = [(lo, min(lo + CHUNK - 1, last)) for lo in range(first, last + 1, CHUNK)]

    records, subjects = _plain_statements(engine.dialect.name == "postgresql")

    def read(bounds: tuple[int, int]) -> int:
        with engine.connect() as connection:
            cursor = connection.connection.driver_connection.cursor()
            cursor.execute(records.format(lo=bounds[0], hi=bounds[1]))
            rows = len(cursor.fetchall())
            cursor.execute(subjects.format(lo=bounds[0], hi=bounds[1]))
            cursor.fetchall()
            return rows

    if workers == 1:
        return sum(map(read, ranges))
    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(read, ranges))


def timed_verify(engine: Engine, within) -> tuple[float, int]:
    with Session(engine) as session:
        began = time.perf_counter()
        report = verify(session, workers=1 if within else None, within=within)
        seconds = time.perf_counter() - began
    if not report.ok:
        raise RuntimeError(f"the bench log does not verify: {report.findings[:3]}")
    return seconds, report.records


def timed_read(engine: Engine, within) -> tuple[float, int]:
    began = time.perf_counter()
    rows = plain_read(engine, within, 1 if within else None)
    return time.perf_counter() - began, rows


def fill(engine: Engine, records: int) -> None:
    with Session(engine) as session:
        present = session.scalar(select(func.count()).select_from(ExchangeRecord))
    if present == records:
        return
    empty(engine)
    writer = AuditWriter(audit_engine(engine))
    for start in range(0, records, 10_000):
        receipts = [writer.submit(record(n)) for n in range(start, min(start + 10_000, records))]
        for receipt in receipts:
            receipt.result(timeout=120)
    writer.close()
    with engine.begin() as connection:  # as autovacuum / a periodic ANALYZE would have
        for table in ("exchanges", "exchange_subjects"):
            connection.execute(text(f"ANALYZE {table}"))


# --- the run -----------------------------------------------------------------------------


def _postgresql_database(url: str) -> str:
    """``url``, its database made if missing."""
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return url


def _databases(args) -> dict[str, tuple[str, str]]:
    """Per database kind: (URL for appends, URL for the verified log)."""
    folder = args.sqlite or tempfile.mkdtemp(prefix="gatehouse-ratios-")
    return {
        "SQLite": (f"sqlite:///{folder}/appends.db", f"sqlite:///{folder}/log.db"),
        "PostgreSQL": (
            _postgresql_database(args.postgresql),
            _postgresql_database(args.postgresql + "_log"),
        ),
    }


def _ratio_line(label: str, name: str, mine: list[float], plain: list[float], unit: str) -> str:
    ratios = [m / p for m, p in zip(mine, plain, strict=True)]
    verdict = "meets" if statistics.median(ratios) >= GOAL else "BELOW"
    return (
        f"{name:<10} {label:<34} {statistics.median(mine):>9,.0f} vs "
        f"{statistics.median(plain):>9,.0f} {unit}  ratio {statistics.median(ratios):.2f} "
        f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}; {verdict} {GOAL})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgresql", default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL", DEFAULT_PG)
    )
    parser.add_argument("--sqlite", help="folder for the SQLite files (default: a temporary one)")
    parser.add_argument("--processes", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--scaling", default="2x16,4x8", help="more PxT settings to measure (empty: none)"
    )
    parser.add_argument("--records", type=int, default=200_000, help="records in the log verified")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip", choices=("appends", "verify"), help="measure only the other")
    args = parser.parse_args()
    databases = _databases(args)
    engines = {}
    for name, urls in databases.items():
        engines[name] = [make_engine(url, pool_size=8) for url in urls]
        for engine in engines[name]:
            upgrade(engine)
    settings = [(args.processes, args.threads)]
    settings += [tuple(map(int, s.split("x"))) for s in args.scaling.split(",") if s]
    figures: dict[tuple, list] = defaultdict(list)
    if args.skip != "appends":
        for _ in range(args.rounds):
            for name, (url, _) in databases.items():
                for processes, threads in settings:
                    chained, plain, lock = appends_round(url, engines[name][0], processes, threads)
                    figures[name, processes, threads].append((chained, plain, lock))
    if args.skip != "verify":
        for engines_of in engines.values():
            fill(engines_of[1], args.records)
        for round_number in range(args.rounds):
            for name, engines_of in engines.items():
                log = engines_of[1]
                with log.connect() as connection:
                    last = connection.scalar(select(func.max(ExchangeRecord.seq)))
                for label, within in (
                    ("whole", None),
                    ("range", (max(1, last - MAX_RANGE + 1), last)),
                ):
                    order = (timed_read, timed_verify)[:: -1 if round_number % 2 else 1]
                    measured = {f: f(log, within) for f in order}
                    figures[name, label].append(
                        (
                            measured[timed_verify][1] / measured[timed_verify][0],
                            measured[timed_read][1] / measured[timed_read][0],
                        )
                    )
    print(f"{os.cpu_count()} CPUs; {args.rounds} interleaved rounds; medians")
    for key, rounds in figures.items():
        mine, plain = [r[0] for r in rounds], [r[1] for r in rounds]
        if len(key) == 3:
            name, processes, threads = key
            lock = sum((r[2] for r in rounds), LockUse())
            label = f"appends {processes}x{threads}, chained vs plain"
            print(_ratio_line(label, name, mine, plain, "records/s") + f"; {lock}")
        else:
            name, label = key
            label = f"verify {label} ({args.records:,}) vs plain read"
            if label.startswith("verify range"):
                label = f"verify last {min(MAX_RANGE, args.records):,} vs plain read"
            print(_ratio_line(label, name, mine, plain, "records/s"))


if __name__ == "__main__":
    main()

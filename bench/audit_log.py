"""Exchange log speed on PostgreSQL: appends with group commit, and verification.

1. Appends, measured in one run and compared:
   - one request at a time, every record its own commit;
   - WRITERS request threads in one process, each recording exchanges one after another
     and waiting for each commit, as proxy requests do; the process's writer thread
     commits whatever has queued up in one transaction (group commit);
   - the same in PROCESSES processes of WRITERS threads each, every one with its own
     writer, as `gatehouse serve --workers N --threads T` runs gunicorn in production:
     the writers of all processes take turns through the chain's advisory lock. A
     batch holds what one process has queued, so it is the concurrency per process that
     fills batches (4 x 8 threads give about half of 4 x 32);
   - forwarded exchanges in those processes: each recorded without its outcome, then
     completed, two entries under the chain lock as for a call forwarded to a vendor
     (the lines before record each exchange once, outcome included, as for a refusal).
   Each line also says how much CPU time the whole machine (PostgreSQL included) spent
   per record, which tells a slower machine from slower code, and how the writers used
   the chain lock: entries per batch and time held per batch, whose ratio bounds the
   throughput of every instance together however many CPUs they have. A fixed piece
   of reference work, timed before and after, says how fast the machine was meanwhile.
2. Verification: the log is filled to --records records (each with an outcome and two
   subjects), then `gateway.audit.verify` checks both chains end to end.
3. The person report (GDPR Art. 15) on the same log, for people who recur: one of each
   record's two subjects is one of PEOPLE people, so each is in records / PEOPLE records.

    .venv/bin/python bench/audit_log.py [--database-url URL] [--records 1000000]
    .venv/bin/python bench/audit_log.py --verify-only    # 2 and 3 again, on the log left filled

A later measurement on the same filled log: `filled_log(url, records)` gives an engine
on it (filling it only if needed), as `measure_verify` uses it; add a function beside it
and call it from main().

Uses its own database (default gatehouse_bench), never the test database.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import statistics
import threading
import time
import uuid
from typing import NamedTuple

from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway.audit.models import ExchangeRecord
from gateway.audit.person import person_report
from gateway.audit.verify import verify
from gateway.audit.writer import AuditWriter, Completion, NewRecord
from gateway.db import make_engine, utcnow
from gateway.migrate import upgrade
from gateway.server import freeze_what_lives

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gatehouse_bench"
#: People who recur across the log (a customer contacted again and again).
PEOPLE = 20_000


def person(number: int) -> str:
    """The subject key of recurring person ``number``."""
    return uuid.uuid5(uuid.NAMESPACE_OID, f"person-{number}").hex * 2


def record(index: int) -> NewRecord:
    keys = [uuid.uuid5(uuid.NAMESPACE_OID, f"{index}-once").hex * 2, person(index % PEOPLE)]
    fields = {
        "request_id": uuid.uuid4().hex,
        "started_at": utcnow(),
        "client_id": "gh_bench",
        "department": "growth",
        "tool": "mailchimp",
        "operation": "add_member",
        "method": "POST",
        "path": "/proxy/mailchimp/lists/a1b2c3d4e5/members",
        "purpose": "marketing.communications.email",
        "data_categories": ["user.contact.email", "user.name.first"],
        "categories_stripped": [],
        "subject_count": 2,
        "consent_event_ids": [index],
        "country": "US",
        "transfer_basis": "dpf",
        "decision": "allow",
        "reasons": [],
        "policy_version": "0" * 64,
        "bytes_in": 120,
    }
    outcome = {
        "status": 200,
        "latency_ms": 5.1,
        "upstream_status": 200,
        "upstream_latency_ms": 4.2,
        "bytes_out": 300,
        "retries": 0,
        "error": None,
        "completed_at": utcnow(),
    }
    return NewRecord(fields, keys, [], outcome)


def open_log(url: str, fresh: bool) -> Engine:
    engine = make_engine(url, pool_size=4)
    upgrade(engine)
    if fresh:
        with engine.begin() as connection:  # TRUNCATE fires no row trigger
            connection.execute(text("TRUNCATE exchange_subjects, exchanges"))
    return engine


class LockUse(NamedTuple):
    """What this process's writer did with the chain lock (from its metrics)."""

    batches: float = 0
    entries: float = 0
    held: float = 0

    @classmethod
    def so_far(cls) -> LockUse:
        sample = REGISTRY.get_sample_value
        return cls(
            sample("gatehouse_audit_batch_entries_count") or 0,
            sample("gatehouse_audit_batch_entries_sum") or 0,
            sample("gatehouse_audit_chain_lock_held_seconds_sum") or 0,
        )

    def __add__(self, other: LockUse) -> LockUse:
        return LockUse(*(mine + theirs for mine, theirs in zip(self, other, strict=True)))

    def __sub__(self, other: LockUse) -> LockUse:
        return LockUse(*(mine - theirs for mine, theirs in zip(self, other, strict=True)))

    def __str__(self) -> str:
        if not self.batches:
            return "no batches"
        return (
            f"{self.entries / self.batches:.1f} per batch, lock held "
            f"{self.held / self.batches * 1000:.2f} ms per batch"
        )


class Measured(NamedTuple):
    """Records per second, the machine's CPU time per record, the writers' lock use."""

    rate: float
    cpu_us: float | None
    lock: LockUse

    def __str__(self) -> str:
        return f"{self.rate:9,.0f} records/s   ({cpu_text(self.cpu_us)}; {self.lock})"


def busy_cpu_seconds() -> float | None:
    """CPU time the whole machine has spent busy (every process, PostgreSQL's too), or
    None where /proc/stat is not there. Per record, it tells machines apart that differ
    in speed: records/s alone moved by 2x between machines of the same kind."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_us_per_record(since: float | None, records: int) -> float | None:
    """The machine's busy CPU time per record since ``busy_cpu_seconds()`` gave ``since``."""
    return None if since is None else (busy_cpu_seconds() - since) / records * 1e6


def cpu_text(cpu_us: float | None) -> str:
    return "CPU not read" if cpu_us is None else f"{cpu_us:,.1f} us CPU/record"


def reference_ms() -> float:
    """Milliseconds one CPU takes for a fixed piece of work like the log's own (SHA-256 of
    record-sized texts, a Python loop). Printed before and after the measurements: the
    machines here ran it in 433 to 940 ms within one session, and every figure below
    moves with it."""
    text, began = b"x" * 600, time.perf_counter()
    for _ in range(300_000):
        hashlib.sha256(text).digest()
    total = 0
    for number in range(3_000_000):
        total += number
    return (time.perf_counter() - began) * 1000


def measured(run, records: int) -> Measured:
    """``run()`` writes ``records`` and returns the seconds it took and the writers' lock
    use; the machine's CPU time is read around it."""
    cpu = busy_cpu_seconds()
    seconds, lock = run()
    return Measured(records / seconds, cpu_us_per_record(cpu, records), lock)


def appends_in_threads(writer: AuditWriter, writers: int, per_writer: int) -> Measured:
    """``writers`` threads of this process, each waiting for every one of its records."""
    started = threading.Event()
    threads = _request_threads(writer, writers, per_writer, started)
    freeze_what_lives()  # as a serve worker does; a server holds no pile of records

    def run():
        began, before = time.perf_counter(), LockUse.so_far()
        started.set()
        for thread in threads:
            thread.join()
        return time.perf_counter() - began, LockUse.so_far() - before

    return measured(run, writers * per_writer)


def _request_threads(
    writer, writers: int, per_writer: int, started: threading.Event, forwarded: bool = False
):
    """Started threads that wait for ``started``, each then submitting its records one
    after another. The records are made here, beforehand: making them is the proxy's
    work, not the log's, and on 2 CPUs it would take a tenth of the time measured.
    ``forwarded``: each exchange is recorded without its outcome, then completed, as a
    call forwarded to a vendor is (a refused one is recorded once, outcome included)."""

    def one_request_after_another(records: list[NewRecord]) -> None:
        started.wait()
        for new in records:
            if forwarded:
                outcome, new.outcome = new.outcome, None
                seq = writer.submit(new).result(timeout=60)
                writer.submit(Completion(seq, outcome)).result(timeout=60)
            else:
                writer.submit(new).result(timeout=60)

    threads = [
        threading.Thread(
            target=one_request_after_another,
            args=([record(i * per_writer + n) for n in range(per_writer)],),
        )
        for i in range(writers)
    ]
    for thread in threads:
        thread.start()
    return threads


def appends_in_processes(
    url: str, processes: int, writers: int, per_writer: int, forwarded: bool = False
) -> Measured:
    """``processes`` processes of ``writers`` threads, each process with its own writer;
    ``forwarded`` as for ``_request_threads``."""
    context = multiprocessing.get_context("spawn")
    ready, go, used = context.Barrier(processes + 1), context.Event(), context.Queue()
    children = [
        context.Process(
            target=_appending_process,
            args=(url, writers, per_writer, forwarded, ready, go, used),
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    ready.wait(timeout=120)  # every process has its engine, writer and threads

    def run():
        began = time.perf_counter()
        go.set()
        lock = sum((LockUse(*used.get(timeout=600)) for _ in children), LockUse())
        for child in children:
            child.join()
        if any(child.exitcode for child in children):
            raise RuntimeError("an appending process failed")
        return time.perf_counter() - began, lock

    return measured(run, processes * writers * per_writer)


def _appending_process(
    url: str, writers: int, per_writer: int, forwarded: bool, ready, go, used
) -> None:
    engine = make_engine(url, pool_size=2)
    writer = AuditWriter(engine)
    writer.submit(record(0)).result(timeout=60)  # connected, writer thread running
    started = threading.Event()
    threads = _request_threads(writer, writers, per_writer, started, forwarded)
    freeze_what_lives()  # as a serve worker does; a server holds no pile of records
    ready.wait(timeout=120)
    go.wait(timeout=120)
    before = LockUse.so_far()
    started.set()
    for thread in threads:
        thread.join()
    used.put(tuple(LockUse.so_far() - before))
    writer.close()


def measure_appends(url: str, engine: Engine, writers: int, processes: int) -> None:
    writer = AuditWriter(engine)
    sequential = appends_in_threads(writer, 1, 2_000)
    grouped = appends_in_threads(writer, writers, 1_000)
    writer.close()
    spread = appends_in_processes(url, processes, writers, 1_000)
    forwarded = appends_in_processes(url, processes, writers, 500, forwarded=True)
    print(f"appends, one request at a time (a commit each):             {sequential}")
    print(f"appends, {writers} request threads, 1 process (group commit):     {grouped}")
    print(f"appends, {processes} processes x {writers} request threads (group commit): {spread}")
    print(
        f"forwarded exchanges (record, then completion), {processes} x {writers}:  "
        f"{str(forwarded).replace('records/s', 'exchanges/s')}"
    )
    print(
        f"  group commit: {grouped.rate / sequential.rate:.1f}x (1 process), "
        f"{spread.rate / sequential.rate:.1f}x ({processes} processes) one commit per record"
    )


def fill(engine: Engine, target: int) -> None:
    with Session(engine) as session:
        present = session.scalar(select(func.count()).select_from(ExchangeRecord))
    if present >= target:
        print(f"log already holds {present:,} records")
        return
    writer = AuditWriter(engine)
    started = time.perf_counter()
    for start in range(present, target, 10_000):
        receipts = [writer.submit(record(n)) for n in range(start, min(start + 10_000, target))]
        for receipt in receipts:
            receipt.result(timeout=60)
    writer.close()
    with engine.begin() as connection:  # as autovacuum would have by now on a live log
        connection.execute(text("ANALYZE exchanges, exchange_subjects"))
    print(f"filled to {target:,} records in {time.perf_counter() - started:.0f} s")


def filled_log(url: str, records: int, fresh: bool = False) -> Engine:
    """An engine on the bench log, holding at least ``records`` records."""
    engine = open_log(url, fresh)
    fill(engine, records)
    return engine


def measure_verify(engine: Engine) -> None:
    with Session(engine) as session:
        cpu, started = busy_cpu_seconds(), time.perf_counter()
        report = verify(session)
        elapsed = time.perf_counter() - started
    cpu_us = cpu_text(cpu_us_per_record(cpu, report.records))
    print(
        f"verified {report.records:,} records and {report.outcomes:,} outcomes in "
        f"{elapsed:.1f} s: {report.records / elapsed:,.0f} records/s "
        f"({os.cpu_count()} CPUs, {cpu_us}); {len(report.findings)} problems"
    )


def measure_person_report(engine: Engine, samples: int = 200) -> None:
    numbers = random.Random(5).sample(range(PEOPLE), samples)
    timings = []
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(ExchangeRecord))
        person_report(session, person(numbers[0]))  # a warm connection, as a server has
        freeze_what_lives()  # as a `gatehouse serve` worker does once its app is built
        for number in numbers:
            started = time.perf_counter()
            report = person_report(session, person(number))
            timings.append((time.perf_counter() - started) * 1000)
            session.expunge_all()
    timings.sort()
    print(
        f"person report over {total:,} records ({len(report.exchanges)} exchanges of the "
        f"person): median {statistics.median(timings):.1f} ms, p95 "
        f"{timings[int(len(timings) * 0.95)]:.1f} ms, max {timings[-1]:.1f} ms ({samples} people)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=32, help="request threads per process")
    parser.add_argument("--processes", type=int, default=4, help="appending processes")
    parser.add_argument(
        "--verify-only", action="store_true", help="keep the log as it is; skip the appends"
    )
    args = parser.parse_args()
    print(f"reference work on one CPU: {reference_ms():.0f} ms (before)")
    engine = open_log(args.database_url, fresh=not args.verify_only)
    if not args.verify_only:
        measure_appends(args.database_url, engine, args.writers, args.processes)
    fill(engine, args.records)
    measure_verify(engine)
    measure_person_report(engine)
    print(f"reference work on one CPU: {reference_ms():.0f} ms (after)")


if __name__ == "__main__":
    main()

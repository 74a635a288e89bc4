"""Exchange log speed on PostgreSQL: appends with group commit, and verification.

1. Appends: WRITERS threads each record exchanges one after another and wait for each
   commit, as proxy requests do; the writer thread commits whatever has queued up in one
   transaction. Compared, in the same run, with one request at a time (every record its
   own commit).
2. Verification: the log is filled to --records records, then `gateway.audit.verify`
   checks both chains end to end.

    .venv/bin/python bench/audit_log.py [--database-url URL] [--records 1000000]

Uses its own database (default gatehouse_bench), never the test database.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from concurrent.futures import wait

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.audit.models import ExchangeRecord
from gateway.audit.verify import verify
from gateway.audit.writer import AuditWriter, NewRecord
from gateway.db import make_engine, utcnow
from gateway.migrate import upgrade

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gatehouse_bench"


def record(index: int) -> NewRecord:
    keys = [uuid.uuid5(uuid.NAMESPACE_OID, f"{index}-{n}").hex * 2 for n in range(2)]
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
        "error": None,
        "completed_at": utcnow(),
    }
    return NewRecord(fields, keys, [], outcome)


def appends_per_second(writer: AuditWriter, writers: int, per_writer: int) -> float:
    def one_request_after_another(offset: int) -> None:
        for n in range(per_writer):
            writer.submit(record(offset + n)).result(timeout=60)

    threads = [
        threading.Thread(target=one_request_after_another, args=(i * per_writer,))
        for i in range(writers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return writers * per_writer / (time.perf_counter() - started)


def fill(writer: AuditWriter, engine, target: int) -> None:
    with Session(engine) as session:
        present = session.scalar(select(func.count()).select_from(ExchangeRecord))
    if present >= target:
        print(f"log already holds {present:,} records")
        return
    started = time.perf_counter()
    for start in range(present, target, 10_000):
        futures = [writer.submit(record(n)) for n in range(start, min(start + 10_000, target))]
        wait(futures)
    print(f"filled to {target:,} records in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=32)
    args = parser.parse_args()
    engine = make_engine(args.database_url, pool_size=4)
    upgrade(engine)
    with engine.begin() as connection:  # a fresh log; TRUNCATE fires no row trigger
        connection.execute(text("TRUNCATE exchange_subjects, exchanges"))
    writer = AuditWriter(engine)

    sequential = appends_per_second(writer, 1, 2_000)
    grouped = appends_per_second(writer, args.writers, 1_000)
    print(f"appends, one request at a time (a commit each): {sequential:9,.0f} records/s")
    print(
        f"appends, {args.writers} concurrent requests (group commit): {grouped:9,.0f} records/s"
        f"   ({grouped / sequential:.1f}x)"
    )

    fill(writer, engine, args.records)
    with Session(engine) as session:
        started = time.perf_counter()
        report = verify(session)
        elapsed = time.perf_counter() - started
    print(
        f"verified {report.records:,} records and {report.outcomes:,} outcomes in "
        f"{elapsed:.1f} s: {report.records / elapsed:,.0f} records/s; "
        f"{len(report.findings)} problems"
    )


if __name__ == "__main__":
    main()

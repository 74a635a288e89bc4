"""How long the portal's chain page takes to verify a range of the exchange log, and the
whole log as `gatehouse audit verify` checks it, on PostgreSQL.

The page checks at most ``gateway.portal.audit_chain.MAX_RANGE`` records in one request,
on one connection (``workers=1``), so that one auditor's click cannot occupy a server's
CPUs; the CLI checks the whole log with several connections at once. Ranges are taken at
the end of the log (the part written since the last checkpoint, what an auditor checks
first) and in its middle, three runs each; the median is printed.

    .venv/bin/python bench/verify_range.py [--database-url URL] [--records 1000000]

Uses the log of ``bench/audit_log.py`` (its own database, default gatehouse_bench),
filling it first if it holds fewer records.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from audit_log import DEFAULT_URL, filled_log
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.audit.models import ExchangeRecord
from gateway.audit.verify import verify
from gateway.portal.audit_chain import MAX_RANGE

RUNS = 3


def timed(engine, workers: int | None, within: tuple[int, int] | None) -> tuple[float, int]:
    """Median seconds of RUNS verifications, and how many records each checked."""
    timings, checked = [], 0
    for _ in range(RUNS):
        with Session(engine) as session:
            started = time.perf_counter()
            report = verify(session, workers=workers, within=within)
            timings.append(time.perf_counter() - started)
            assert report.ok, report.findings[:3]
            checked = report.records
    return statistics.median(timings), checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    engine = filled_log(args.database_url, args.records)
    with Session(engine) as session:
        last = session.scalar(select(func.max(ExchangeRecord.seq)))
    cases = [
        (f"page, last {size:,}", 1, (last - size + 1, last))
        for size in (10_000, MAX_RANGE)
        if size <= last
    ]
    middle = last // 2
    cases.append((f"page, {MAX_RANGE:,} in the middle", 1, (middle, middle + MAX_RANGE - 1)))
    cases.append(("CLI, whole log", None, None))
    for label, workers, within in cases:
        seconds, checked = timed(engine, workers, within)
        print(
            f"{label}: {checked:,} records in {seconds:.2f} s "
            f"({checked / seconds:,.0f} records/s, {os.cpu_count()} CPUs)"
        )


if __name__ == "__main__":
    main()

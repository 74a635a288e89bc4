"""The consent of a request's 500 subjects, read from a registry of 1,000,000, timed.

Why: before each decision the proxy reads the current consent of every subject of the
request with one indexed query, ``policies.consent.consent_states(session, keys)``; the
issue's goal is under 10 ms for 500 subjects among 1,000,000 in PostgreSQL. This measures
exactly that call.

It migrates the database (``gateway.migrate.upgrade``) and, unless ``consent_states``
already holds them, loads the subjects' consent states with PostgreSQL's COPY (every
subject consented to e-mail marketing, every third also to analytics, every tenth also to
personalisation; some withdrawn, some with an expiry), then VACUUM ANALYZE. A second run
finds the rows and does not load them again. Keys are 64-hex strings like the registry's
HMACs: the SHA-256 of ``subject-<index>``. Each timed lookup asks for a fresh random batch,
a mix of registered subjects and unknown ones, in one open session.

    .venv/bin/python bench/consent_lookup.py [--database-url URL] [--subjects 1000000]
        [--batch 500] [--absent-share 0.2] [--repetitions 1000] [--warmup 50]

The URL defaults to $GATEHOUSE_BENCH_DATABASE_URL (as ``make bench`` passes it), else to a
local database ``gatehouse_bench``.

It prints the rows in the table, how long the load took (or that it was skipped), the
plan PostgreSQL chose for one lookup (EXPLAIN ANALYZE, BUFFERS: the primary-key index
should be used), and the median, 95th percentile and maximum time of one call in ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway.db import make_engine
from gateway.migrate import upgrade
from policies.consent import consent_states

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gatehouse_bench"
#: Each purpose, and every how many subjects hold a state for it.
PURPOSE_EVERY = {"marketing.communications.email": 1, "analytics": 3, "personalize": 10}
COLUMNS = "subject_key, purpose, status, occurred_at, expires_at, event_id"
RECORDED_FROM = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 50_000
KEY_ARRAY = re.compile(r"'\{[^}]*\}'")


def subject_key(index: int) -> str:
    return hashlib.sha256(f"subject-{index}".encode()).hexdigest()


def expected_rows(subjects: int) -> int:
    return sum(len(range(0, subjects, every)) for every in PURPOSE_EVERY.values())


def state_lines(subjects: int) -> Iterator[str]:
    """The consent states as lines of COPY's text format, one per subject and purpose."""
    event_id = 0
    for index in range(subjects):
        key = subject_key(index)
        occurred_at = RECORDED_FROM + timedelta(minutes=index % 100_000)
        expires_at = str(occurred_at + timedelta(days=730)) if index % 5 == 0 else r"\N"
        status = "withdrawn" if index % 17 == 0 else "granted"
        for purpose, every in PURPOSE_EVERY.items():
            if index % every == 0:
                event_id += 1
                yield f"{key}\t{purpose}\t{status}\t{occurred_at}\t{expires_at}\t{event_id}\n"


def copy_states(cursor, subjects: int) -> None:
    with cursor.copy(f"COPY consent_states ({COLUMNS}) FROM STDIN") as copy:
        chunk: list[str] = []
        for line in state_lines(subjects):
            chunk.append(line)
            if len(chunk) == CHUNK:
                copy.write("".join(chunk))
                chunk.clear()
        copy.write("".join(chunk))


def load_states(engine: Engine, subjects: int) -> float:
    """COPY the states in, then VACUUM ANALYZE; returns the seconds it took."""
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            copy_states(cursor, subjects)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE) consent_states")
        connection.autocommit = False
    finally:
        raw.close()
    return time.perf_counter() - started


def row_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM consent_states")).scalar_one()


def ensure_loaded(engine: Engine, subjects: int) -> None:
    rows, wanted = row_count(engine), expected_rows(subjects)
    if rows == wanted:
        print(f"consent_states already holds {rows:,} rows: not loaded again")
        return
    if rows:
        raise SystemExit(
            f"consent_states holds {rows:,} rows, not the {wanted:,} this benchmark loads for "
            f"{subjects:,} subjects: give --database-url an empty database of its own, or "
            "empty the table (TRUNCATE consent_states) first"
        )
    print(f"loading {wanted:,} consent states of {subjects:,} subjects with COPY ...")
    seconds = load_states(engine, subjects)
    print(f"loaded in {seconds:.1f} s (COPY, commit, VACUUM ANALYZE)")


def batch_of_keys(rng: random.Random, subjects: int, size: int, absent_share: float) -> list[str]:
    """Registered subjects picked at random, and some that the registry never saw."""
    absent = round(size * absent_share)
    present = [subject_key(rng.randrange(subjects)) for _ in range(size - absent)]
    unknown = [subject_key(subjects + rng.randrange(subjects)) for _ in range(absent)]
    return present + unknown


def explain(session: Session, keys: list[str]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the very statement consent_states() sends."""
    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        consent_states(session, keys)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = sent[-1]
    plan = session.connection().exec_driver_sql(
        f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
    )
    return [line for (line,) in plan]


def plan_summary(lines: list[str]) -> list[str]:
    """The plan, with the keys of its index condition left out."""
    return [KEY_ARRAY.sub("'{...}'", line) for line in lines]


def time_lookups(
    session: Session, args: argparse.Namespace, rng: random.Random
) -> tuple[list[float], list[int]]:
    def one_lookup() -> tuple[float, int]:
        keys = batch_of_keys(rng, args.subjects, args.batch, args.absent_share)
        started = time.perf_counter()
        found = consent_states(session, keys)
        return (time.perf_counter() - started) * 1000, len(found)

    for _ in range(args.warmup):
        one_lookup()
    results = [one_lookup() for _ in range(args.repetitions)]
    return [ms for ms, _ in results], [found for _, found in results]


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[int(share * (len(values) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--absent-share", type=float, default=0.2)
    parser.add_argument("--repetitions", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()

    engine = make_engine(args.database_url)
    upgrade(engine)
    ensure_loaded(engine, args.subjects)
    print(f"rows in consent_states: {row_count(engine):,}")

    rng = random.Random(20261122)
    with Session(engine) as session:
        keys = batch_of_keys(rng, args.subjects, args.batch, args.absent_share)
        print("\nPlan of one lookup:")
        for line in plan_summary(explain(session, keys)):
            print(f"  {line}")
        timings, found = time_lookups(session, args, rng)

    print(
        f"\nconsent_states() for {args.batch} keys ({args.absent_share:.0%} unknown), "
        f"{args.repetitions} lookups after {args.warmup} warm-up:"
    )
    print(
        f"  median {statistics.median(timings):.2f} ms   p95 {percentile(timings, 0.95):.2f} ms"
        f"   max {max(timings):.2f} ms   subjects found per lookup: {statistics.mean(found):.0f}"
    )
    verdict = "met" if percentile(timings, 0.95) < 10 else "NOT met"
    print(f"Goal, under 10 ms (taken at the p95): {verdict}")


if __name__ == "__main__":
    main()

"""Usage reports on PostgreSQL: the 30-day report from the daily aggregates against the
same report computed by a full scan of the exchange log, in one run.

1. Loads RECORDS exchange records spread over 30 UTC days (COPY; the chain's hashes are
   not computed, a report never reads them): TOOLS tools, APPS apps in DEPARTMENTS
   departments, 70 % allowed, 10 % redacted (one person dropped), 20 % denied by one or
   two rules, 0 to 3 people each from a population of PEOPLE, 2 % still pending.
2. Folds the whole log into the aggregates (the first refresh after the migration).
3. The 30-day report by tool from the aggregates (``catalog.usage.usage_report``, after
   a refresh that finds nothing new) and by a full scan (SQL over ``exchanges`` and
   ``exchange_subjects``: decisions, records, distinct people, categories, refusals,
   vendor errors, exact p50/p95, bytes), each the median of a few runs; both agree on
   every count, which the run checks; prints the ratio (goal: at least 20x).
4. What a refresh costs: batches of 1,000 new records (with their completions) are
   folded in, one refresh each.

    .venv/bin/python bench/usage_report.py [--database-url URL] [--records 1000000]

The URL defaults to $GATEHOUSE_BENCH_DATABASE_URL, else to the database gatehouse_bench;
its ``public`` schema is dropped and rebuilt: never point it at a database you keep.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from catalog.usage import _split, _sums, usage_query, usage_report
from catalog.usage_models import UsageCategory, UsageLatency, UsageRefusal
from gateway.audit.usage_refresh import refresh_usage
from gateway.db import make_engine
from gateway.migrate import upgrade

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gatehouse_bench"
DAYS = 30
TOOLS = [f"tool-{n}" for n in range(10)]
DEPARTMENTS = [f"dept-{n}" for n in range(6)]
APPS = [(f"app-{n:02}", DEPARTMENTS[n % len(DEPARTMENTS)]) for n in range(30)]
PEOPLE = 100_000
CATEGORIES = ["user.contact.email", "user.name", "user.contact.phone_number", "user.demographic"]
RULES = ["consent_missing", "grant_category", "grant_purpose", "transfer_basis"]
RUNS = 5
#: The report's per-key figures besides the sums (see ``catalog.usage``).
_SPLITS = (
    (UsageLatency, UsageLatency.bucket),
    (UsageCategory, UsageCategory.category),
    (UsageRefusal, UsageRefusal.rule),
)
_COLUMNS = (
    "seq, request_id, started_at, client_id, department, tool, method, path, "
    "data_categories, categories_stripped, subject_count, consent_event_ids, decision, "
    "reasons, outcome, status, upstream_status, error, latency_ms, bytes_in, bytes_out, "
    "record_hash, outcome_seq"
)


def person(number: int) -> str:
    """A subject key like the gateway's (a hex SHA-256 digest)."""
    return hashlib.sha256(number.to_bytes(8)).hexdigest()


def _rows(first: int, count: int, first_day: date, rng: random.Random):
    """Lines of COPY's text format for records ``first``..``first + count - 1`` and
    their subjects."""
    start = datetime.combine(first_day, datetime.min.time(), UTC)
    records, subjects = io.StringIO(), io.StringIO()
    for seq in range(first, first + count):
        started = start + timedelta(seconds=rng.randrange(DAYS * 86_400))
        app, department = rng.choice(APPS)
        tool = TOOLS[int(app[-2:]) % 3 + rng.randrange(0, 8)] if rng.random() < 0.9 else None
        keys = [person(rng.randrange(PEOPLE)) for _ in range(rng.randrange(4))]
        keys = sorted(set(keys))
        categories = sorted(rng.sample(CATEGORIES, rng.randrange(1, 4)))
        roll = rng.random()
        decision = "allow" if roll < 0.7 else "redact" if roll < 0.8 and keys else "deny"
        reasons = []
        if decision == "deny":
            reasons = [{"rule": r, "message": "no"} for r in rng.sample(RULES, rng.randrange(1, 3))]
        stripped = categories[:1] if decision == "redact" else []
        for index, key in enumerate(keys):
            dropped = "t" if decision == "redact" and index == 0 else "f"
            subjects.write(f"{seq}\t{key}\t{dropped}\n")
        pending = decision != "deny" and rng.random() < 0.02
        upstream = rng.choice((200, 200, 200, 201, 400, 503)) if decision != "deny" else None
        status = 403 if decision == "deny" else upstream
        latency = round(rng.lognormvariate(4, 1), 3)
        fields = [
            seq,
            f"bench-{seq}",
            started.isoformat(),
            app,
            department,
            tool,
            "POST",
            "/proxy/x",
            json.dumps(categories),
            json.dumps(stripped),
            len(keys),
            "[]",
            decision,
            json.dumps(reasons),
            "pending" if pending else "completed",
            None if pending else status,
            None if pending else upstream,
            "forbidden" if decision == "deny" else None,
            None if pending else latency,
            rng.randrange(100, 5000),
            None if pending or decision == "deny" else rng.randrange(100, 20_000),
            "0" * 64,
            None if pending else seq,
        ]
        records.write("\t".join(r"\N" if v is None else str(v) for v in fields) + "\n")
    return records.getvalue(), subjects.getvalue()


def load(engine: Engine, first: int, count: int, first_day: date, seed: int) -> None:
    rng = random.Random(seed)
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        for start in range(first, first + count, 50_000):
            size = min(50_000, first + count - start)
            records, subjects = _rows(start, size, first_day, rng)
            with cursor.copy(f"COPY exchanges ({_COLUMNS}) FROM STDIN") as copy:
                copy.write(records)
            with cursor.copy(
                "COPY exchange_subjects (exchange_seq, subject_key, dropped) FROM STDIN"
            ) as copy:
                copy.write(subjects)
        raw.driver_connection.commit()
    finally:
        raw.close()


def fresh_database(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    return engine


# -- the same report by a full scan of the log ----------------------------------------

_IN_RANGE = "e.started_at >= :since AND e.started_at < :until"
_FORWARDED = "e.decision IN ('allow', 'redact')"
_SCAN = {
    "counts": f"""
        SELECT e.tool, count(*), count(*) FILTER (WHERE e.decision = 'allow'),
          count(*) FILTER (WHERE e.decision = 'redact'),
          count(*) FILTER (WHERE e.decision = 'deny'),
          count(e.outcome_seq),
          coalesce(sum(e.subject_count) FILTER (WHERE {_FORWARDED}), 0),
          count(*) FILTER (WHERE {_FORWARDED} AND e.outcome_seq IS NOT NULL AND
            (e.upstream_status >= 500 OR (e.upstream_status IS NULL AND e.error IS NOT NULL))),
          coalesce(sum(e.bytes_in) FILTER (WHERE {_FORWARDED}), 0),
          coalesce(sum(e.bytes_out) FILTER (WHERE e.outcome_seq IS NOT NULL), 0),
          percentile_disc(0.5) WITHIN GROUP (ORDER BY e.latency_ms)
            FILTER (WHERE e.outcome_seq IS NOT NULL),
          percentile_disc(0.95) WITHIN GROUP (ORDER BY e.latency_ms)
            FILTER (WHERE e.outcome_seq IS NOT NULL)
        FROM exchanges e WHERE {_IN_RANGE} GROUP BY e.tool""",
    "dropped": f"""
        SELECT e.tool, count(*) FROM exchange_subjects s JOIN exchanges e ON e.seq = s.exchange_seq
        WHERE s.dropped AND {_FORWARDED} AND {_IN_RANGE} GROUP BY e.tool""",
    "people": f"""
        SELECT e.tool, count(DISTINCT s.subject_key) FROM exchange_subjects s
        JOIN exchanges e ON e.seq = s.exchange_seq
        WHERE NOT s.dropped AND {_FORWARDED} AND {_IN_RANGE} GROUP BY e.tool""",
    "people_total": f"""
        SELECT count(DISTINCT s.subject_key) FROM exchange_subjects s
        JOIN exchanges e ON e.seq = s.exchange_seq
        WHERE NOT s.dropped AND {_FORWARDED} AND {_IN_RANGE}""",
    "categories": f"""
        SELECT e.tool, c.value, count(*) FROM exchanges e,
          json_array_elements_text(e.data_categories) c
        WHERE {_FORWARDED} AND {_IN_RANGE}
          AND NOT (e.categories_stripped::jsonb ? c.value) GROUP BY e.tool, c.value""",
    "refusals": f"""
        SELECT e.tool, r.rule, count(*) FROM exchanges e,
          LATERAL (SELECT DISTINCT x->>'rule' AS rule FROM json_array_elements(e.reasons) x) r
        WHERE e.decision = 'deny' AND {_IN_RANGE} GROUP BY e.tool, r.rule""",
}


def report_by_scan(session: Session, since: date, until: date) -> dict:
    bounds = {
        "since": datetime.combine(since, datetime.min.time(), UTC),
        "until": datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC),
    }
    return {name: session.execute(text(sql), bounds).all() for name, sql in _SCAN.items()}


def _agree(report, scanned: dict) -> None:
    """The two reports count alike (latency aside: exact there, bucketed here)."""
    dropped = {tool: n for tool, n in scanned["dropped"]}
    people = {tool: n for tool, n in scanned["people"]}
    rows = {row.key: row for row in report.rows}
    for tool, calls, allowed, redacted, denied, completed, records, errors, *_ in scanned["counts"]:
        row = rows[tool]
        assert (row.calls, row.allowed, row.redacted, row.denied, row.completed) == (
            calls,
            allowed,
            redacted,
            denied,
            completed,
        ), tool
        assert row.records_sent == records - dropped.get(tool, 0), tool
        assert row.vendor_errors == errors, tool
        assert row.people == people.get(tool, 0), tool
    assert report.total.people == scanned["people_total"][0][0]


def timed(work, runs: int = RUNS) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def compare(engine: Engine, since: date, until: date) -> None:
    query = usage_query(since, until, "tool")
    with Session(engine) as session:

        def from_aggregates():
            refresh_usage(session)  # as every report does: finds nothing new here
            session.commit()
            return usage_report(session, query)

        aggregated, report = timed(from_aggregates)
        rest, _ = timed(
            lambda: [
                _sums(session, query),
                *(_split(session, query, m, extra) for m, extra in _SPLITS),
            ]
        )
        scanned, scan = timed(lambda: report_by_scan(session, since, until), runs=3)
    _agree(report, scan)
    print(
        f"30-day report by tool over {report.total.calls:,} records: "
        f"aggregates {aggregated * 1000:.0f} ms, full scan {scanned * 1000:.0f} ms "
        f"(median of {RUNS} and 3 runs): {scanned / aggregated:.1f}x faster (goal: 20x); "
        "every count agrees"
    )
    print(
        f"  of which distinct people (per tool and in all, exact): "
        f"{(aggregated - rest) * 1000:.0f} ms; the other figures {rest * 1000:.0f} ms, "
        f"{scanned / rest:.0f}x faster than the scan"
    )


def refresh_cost(engine: Engine, after: int, until: date) -> None:
    costs = []
    for batch in range(10):
        first = after + 1 + batch * 1000
        load(engine, first, 1000, until, seed=first)
        with Session(engine) as session:
            started = time.perf_counter()
            refresh_usage(session)
            session.commit()
            costs.append(time.perf_counter() - started)
    print(
        f"refresh per 1,000 new records (with their completions): median "
        f"{statistics.median(costs) * 1000:.0f} ms, max {max(costs) * 1000:.0f} ms (10 batches)"
    )


def vacuum(engine: Engine) -> None:
    """What autovacuum does soon after a bulk of inserts (PostgreSQL 13 and later): the
    statistics, and the visibility map that lets an index be read without the table."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def _last_seq(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT max(seq) FROM exchanges")).scalar()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the log a run left (skip 1 and 2)"
    )
    args = parser.parse_args()
    until = date.today() - timedelta(days=1)
    since = until - timedelta(days=DAYS - 1)
    if args.reuse:
        engine = make_engine(args.database_url)
        args.records = _last_seq(engine)
        vacuum(engine)
        compare(engine, since, until)
        refresh_cost(engine, args.records, until)
        return
    engine = fresh_database(args.database_url)

    started = time.perf_counter()
    load(engine, 1, args.records, since, seed=1)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    seconds = time.perf_counter() - started
    print(f"loaded {args.records:,} records over {DAYS} days in {seconds:.0f} s (COPY)")

    with Session(engine) as session:
        started = time.perf_counter()
        records, completions = refresh_usage(session)
        session.commit()
        print(
            f"first refresh: folded {records:,} records and {completions:,} completions "
            f"in {time.perf_counter() - started:.1f} s"
        )
    vacuum(engine)
    compare(engine, since, until)
    refresh_cost(engine, args.records, until)
    engine.dispose()


if __name__ == "__main__":
    main()

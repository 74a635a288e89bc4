"""How fast a shadow-IT scan reads a proxy log, and how much memory it holds, in one run.

Writes a Squid access.log of N lines (default 1,000,000: clients of two departments
reaching the three sample vendors' web, app and API hosts, the gateway calling an
approved tool's API, unknown domains and a malformed line now and then), then scans it
as `gatehouse shadow-it scan` does (parse, match against the vendor dataset and the
catalog's standings, count findings) and prints lines per second and the peak resident
memory of the process before and after the scan. ``--gzip`` scans it compressed.

    .venv/bin/python bench/shadow_it_scan.py [--lines 1000000] [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from catalog.shadow_it.catalog_states import APPROVED, CatalogStates, Standing
from catalog.shadow_it.departments import DepartmentMap
from catalog.shadow_it.formats import ParseOptions
from catalog.shadow_it.models import CatalogState
from catalog.shadow_it.scan import ScanContext, scan_file
from connectors.saas_vendors import VendorIndex

HOSTS = (
    "mailchimp.com",
    "us21.api.mailchimp.com",
    "app.hubspot.com",
    "api.hubapi.com",
    "insights.hotjar.com",
    "static.hotjar.com",
    "www.example-news.com",
    "cdn.unknownsaas.io",
)
START = 1793610000


def write_log(path: Path, count: int, compressed: bool) -> None:
    opener = gzip.open if compressed else open
    with opener(path, "wt") as log:
        for number in range(count):
            if number % 10_000 == 9_999:
                log.write("a line no proxy wrote\n")
                continue
            host = HOSTS[number % len(HOSTS)]
            client = (
                "203.0.113.10"
                if number % 40 == 1
                else f"10.{1 + number % 2}.{number % 97}.{number % 89}"
            )
            log.write(
                f"{START + number // 20}.{number % 1000:03d} {number % 500} {client} TCP_MISS/200 "
                f"{number % 20_000} GET https://{host}/p/{number % 5000} user{number % 700} "
                "HIER_DIRECT/198.51.100.7 text/html\n"
            )


def context() -> ScanContext:
    standings = {
        "mailchimp": Standing(APPROVED, "mailchimp"),
        "hubspot": Standing(CatalogState.SUSPENDED, "hubspot"),
    }
    return ScanContext(
        index=VendorIndex.default(),
        states=CatalogStates(standings, [ipaddress.ip_network("203.0.113.10/32")]),
        departments=DepartmentMap.load(
            Path(__file__).parents[1] / "tests" / "samples" / "shadow_it" / "departments.yaml"
        ),
        options=ParseOptions(),
        now=datetime.now(UTC),
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--gzip", action="store_true", help="scan the log gzip-compressed")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as folder:
        path = Path(folder) / ("access.log.gz" if arguments.gzip else "access.log")
        write_log(path, arguments.lines, arguments.gzip)
        scan_context = context()
        VendorIndex.default().by_host("warm.up.example.com")  # load the Public Suffix List
        before = peak_rss_mib()
        started = time.perf_counter()
        scan = scan_file(path, "squid", scan_context, lambda head: None)
        elapsed = time.perf_counter() - started
        after = peak_rss_mib()
        size = path.stat().st_size
    tally = scan.tally
    print(
        f"shadow-IT scan of a {arguments.lines:,}-line Squid log ({size / 2**20:.0f} MiB"
        f"{', gzip' if arguments.gzip else ''}):"
    )
    print(f"  {arguments.lines / elapsed:,.0f} lines/s ({elapsed:.1f} s)")
    print(
        f"  peak resident memory: {before:.0f} MiB before the scan, {after:.0f} MiB after "
        f"(+{after - before:.1f} MiB)"
    )
    print(
        f"  {tally.events:,} events, {tally.sanctioned:,} sanctioned, "
        f"{tally.malformed:,} malformed, "
        f"{len(tally.findings)} findings, {len(tally.unknown)} unknown domains"
    )


if __name__ == "__main__":
    main()

"""A scan streams: its memory stays under a fixed bound however many lines the log has.
The log is generated into a named pipe as it is read, so it is never stored either."""

from __future__ import annotations

import os
import threading
import tracemalloc
from datetime import UTC, datetime

import pytest

from catalog.shadow_it.catalog_states import CatalogStates
from catalog.shadow_it.departments import DepartmentMap
from catalog.shadow_it.formats import ParseOptions
from catalog.shadow_it.reading import KnownLog
from catalog.shadow_it.scan import ScanContext, scan_file
from connectors.saas_vendors import VendorIndex
from tests.shadow_it_catalog import SAMPLES

HOSTS = ("insights.hotjar.com", "api.hubapi.com", "us6.api.mailchimp.com", "mailchimp.com")
#: the peak of a scan, whatever the length of the log
BOUND = 8 * 1024 * 1024


def generated_log(count: int):
    """Squid lines with many clients, users, paths and unknown domains."""
    for number in range(count):
        host = HOSTS[number % 4] if number % 5 else f"cdn{number % 47}.unknown-{number % 89}.net"
        client = f"10.{number % 4}.{number % 29}.{number % 31}"
        yield (
            f"{1793610000 + number / 10:.3f} {number % 300} {client} "
            f"TCP_MISS/200 {number % 9000} GET https://{host}/p/{number} u{number % 4001} "
            "HIER_DIRECT/198.51.100.9 text/html\n"
        ).encode()


def _context() -> ScanContext:
    return ScanContext(
        index=VendorIndex.default(),
        states=CatalogStates({}, ()),
        departments=DepartmentMap.load(SAMPLES / "departments.yaml"),
        options=ParseOptions(),
        now=datetime(2026, 12, 3, tzinfo=UTC),
    )


def _scan_through_a_pipe(tmp_path, count: int) -> tuple[int, int]:
    pipe = tmp_path / f"log-{count}"
    os.mkfifo(pipe)

    def write() -> None:
        with open(pipe, "wb") as sink:
            sink.writelines(generated_log(count))

    writer = threading.Thread(target=write)
    writer.start()
    tracemalloc.start()
    try:
        scan = scan_file(pipe, "squid", _context(), lambda head: None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        writer.join()
    return scan.tally.events, peak


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_memory_stays_bounded_while_the_log_grows(tmp_path):
    _scan_through_a_pipe(tmp_path, 500)  # loads the dataset and the Public Suffix List
    small_events, small_peak = _scan_through_a_pipe(tmp_path, 10_000)
    large_events, large_peak = _scan_through_a_pipe(tmp_path, 100_000)
    assert (small_events, large_events) == (10_000, 100_000)
    assert large_peak < BOUND
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


def test_known_logs_are_looked_up_once_per_file(tmp_path):
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(generated_log(100)))
    asked: list[str] = []

    def known(head: str) -> KnownLog | None:
        asked.append(head)
        return None

    scan = scan_file(log, "auto", _context(), known)
    assert len(asked) == 1 and scan.tally.events == 100

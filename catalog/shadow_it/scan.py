"""The scan of one log: parse it line by line, match each event against the vendor
dataset and the catalog, and count findings — in memory that does not grow with the log.

An event's vendor is found by its host (or, on a card statement, its merchant name);
its department by the evidence's own department column, else the client address in the
department map. An approved tool's traffic is sanctioned, unless it is a call to the
tool's API from an address that is not the gateway's: that is a finding (bypassing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from catalog.shadow_it.catalog_states import APPROVED, CatalogStates
from catalog.shadow_it.departments import DepartmentMap
from catalog.shadow_it.evidence import Event, Malformed
from catalog.shadow_it.formats import ParseOptions, parser_for, sniff
from catalog.shadow_it.models import CatalogState
from catalog.shadow_it.reading import KnownLog, LogReader, first_lines
from catalog.shadow_it.tally import FindingTally, Tally
from connectors.saas_vendors import Vendor, VendorIndex, registrable_domain

#: how often (in lines) the progress callback hears of the bytes read
PROGRESS_EVERY = 4096
#: an unknown merchant name is kept up to this length (the column's)
MERCHANT_LENGTH = 253
#: a department named by the evidence is kept up to this length (the column's)
DEPARTMENT_LENGTH = 64
#: longer is no DNS name
DOMAIN_LENGTH = 253


@dataclass
class ScanContext:
    index: VendorIndex
    states: CatalogStates
    departments: DepartmentMap
    options: ParseOptions
    now: datetime
    #: events before this time are not counted (logs overlapping an earlier scan)
    since: datetime | None = None

    def __post_init__(self) -> None:
        self.match_host = self.index.by_host  # the index keeps its own cache of hosts
        self.match_merchant = lru_cache(maxsize=16384)(self.index.by_merchant)
        self.domain_of = lru_cache(maxsize=16384)(registrable_domain)
        self.is_gateway = lru_cache(maxsize=16384)(self.states.is_gateway)


@dataclass
class FileScan:
    path: Path
    format: str
    reader: LogReader
    tally: Tally = field(default_factory=Tally)
    #: lines an earlier scan already counted (skipped)
    skipped: int = 0
    #: the ScannedLog row that remembers this log, once recorded
    log_id: int | None = None


def scan_file(
    path: Path,
    file_format: str,
    context: ScanContext,
    known: Callable[[str], KnownLog | None],
    progress: Callable[[int], None] = lambda position: None,
) -> FileScan:
    if file_format == "auto":
        file_format = sniff(first_lines(path))
    reader = LogReader(path, known)
    scan = FileScan(path, file_format, reader)
    pending: Tally | None = Tally()
    for item in parser_for(file_format, reader.lines(), context.options, context.now):
        if pending is not None and not reader.undecided(item.line):
            scan.skipped = _settle(scan, pending)
            pending = None
        _count(pending if pending is not None else scan.tally, item, context)
        if item.line % PROGRESS_EVERY == 0:
            progress(reader.position)
    if pending is not None:
        scan.skipped = _settle(scan, pending)
    progress(reader.position)
    return scan


def _settle(scan: FileScan, pending: Tally) -> int:
    """Counts the first lines, unless an earlier scan read exactly them."""
    if scan.reader.matched is not None:
        return scan.reader.matched.lines
    scan.tally.merge(pending)
    return 0


def _count(tally: Tally, item: Event | Malformed, context: ScanContext) -> None:
    if isinstance(item, Malformed):
        tally.bad_line(item)
        return
    if context.since is not None and item.time is not None and item.time < context.since:
        tally.before_since += 1
        return
    moment = item.time or context.now
    tally.saw(item.time)
    found = _vendor(tally, item, moment, context)
    if found is None:
        return
    vendor, kind = found
    standing = context.states.of(vendor.slug)
    state = standing.state
    if state == APPROVED:
        if kind != "api" or item.source is None or context.is_gateway(item.source):
            tally.sanctioned += 1
            return
        state = CatalogState.BYPASSING
    department = item.department or context.departments.of_address(item.source or "") or ""
    key = (vendor.slug, department[:DEPARTMENT_LENGTH])
    finding = tally.findings.get(key)
    if finding is None:
        finding = tally.findings[key] = FindingTally(
            vendor.slug, vendor.name, key[1], state, standing.tool_slug, standing.request_id
        )
    finding.add(item, kind, moment)


def _vendor(
    tally: Tally, item: Event, moment: datetime, context: ScanContext
) -> tuple[Vendor, str] | None:
    """The vendor the event reached and what it reached (web, app, api or merchant);
    None, with the name counted as unknown, if no vendor claims it."""
    if item.host is not None:
        match = context.match_host(item.host)
        if match is None:
            _unknown_host(tally, item.host, moment, context)
            return None
        return match.vendor, match.kind
    vendor = context.match_merchant(item.merchant)
    if vendor is None:
        merchant = " ".join(item.merchant.upper().split())[:MERCHANT_LENGTH]
        tally.unknown_name("merchant", merchant, moment)
        return None
    return vendor, "merchant"


def _unknown_host(tally: Tally, host: str, moment: datetime, context: ScanContext) -> None:
    domain = context.domain_of(host)
    if domain is None or len(domain) > DOMAIN_LENGTH:
        tally.no_domain += 1
    else:
        tally.unknown_name("domain", domain, moment)

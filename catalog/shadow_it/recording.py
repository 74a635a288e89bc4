"""A scan of several logs, end to end: read each, then fold what was counted into the
stored findings, the unknown names and the record of scanned logs — never counting a
line twice (see ``reading``) — and report what happened.

Logs that overlap in time without being the same log (two exports of overlapping
windows, say) cannot be told apart line by line in constant memory; the report warns
of them, and ``--since`` lets IT count only what is newer than an earlier scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.shadow_it.findings import finding_as_dict
from catalog.shadow_it.models import Finding, FindingStatus, ScannedLog, UnknownName
from catalog.shadow_it.reading import KnownLog
from catalog.shadow_it.scan import FileScan, ScanContext, scan_file
from catalog.shadow_it.tally import (
    DISTINCT_CAP,
    FindingTally,
    Tally,
    UnknownTally,
    earliest,
    latest,
)

#: an unknown name seen at least this often in a scan is listed for IT to classify
DEFAULT_UNKNOWN_THRESHOLD = 20


@dataclass
class ScanReport:
    files: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    new_findings: int = 0
    unknown: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "findings": self.findings,
            "new_findings": self.new_findings,
            "unknown": self.unknown,
        }


def run_scan(
    session: Session,
    paths: Iterable[tuple[Path, str]],
    context: ScanContext,
    unknown_threshold: int = DEFAULT_UNKNOWN_THRESHOLD,
    progress: Callable[[Path, int], None] = lambda path, position: None,
) -> ScanReport:
    """Scans each ``(path, format)`` and records what it found (the caller commits)."""
    report, total = ScanReport(), Tally()
    for path, file_format in paths:
        scan = scan_file(
            path, file_format, context, _known_logs(session), lambda at, p=path: progress(p, at)
        )
        _remember_log(session, scan, context.now)
        report.files.append(_file_report(session, scan))
        total.merge(scan.tally)
    touched = [_fold_finding(session, tally, report) for tally in total.findings.values()]
    session.flush()
    report.findings = [finding_as_dict(finding) for finding in touched]
    report.unknown = _fold_unknown(session, total.unknown, unknown_threshold)
    return report


def _known_logs(session: Session) -> Callable[[str], KnownLog | None]:
    def known(head_digest: str) -> KnownLog | None:
        found = session.scalars(
            select(ScannedLog)
            .where(ScannedLog.head_digest == head_digest)
            .order_by(ScannedLog.lines.desc(), ScannedLog.id.desc())
        ).first()
        return KnownLog(found.id, found.lines, found.digest) if found else None

    return known


def _remember_log(session: Session, scan: FileScan, now: datetime) -> None:
    reader = scan.reader
    if reader.matched is not None:
        log = session.get(ScannedLog, reader.matched.id)
    else:
        log = ScannedLog(head_digest=reader.head_digest, format=scan.format)
        session.add(log)
    log.lines, log.digest, log.name, log.scanned_at = (
        reader.line_count,
        reader.digest,
        scan.path.name[:500],
        now,
    )
    tally = scan.tally
    log.first_event = earliest(log.first_event, tally.first_event)
    log.last_event = latest(log.last_event, tally.last_event)
    session.flush()
    scan.log_id = log.id


def _file_report(session: Session, scan: FileScan) -> dict:
    tally = scan.tally
    return {
        "file": str(scan.path),
        "format": scan.format,
        "lines": scan.reader.line_count,
        "already_scanned_lines": scan.skipped,
        "events": tally.events,
        "sanctioned": tally.sanctioned,
        "without_domain": tally.no_domain,
        "before_since": tally.before_since,
        "malformed": tally.malformed,
        "malformed_samples": [
            {"line": bad.line, "text": bad.text, "reason": bad.reason} for bad in tally.samples
        ],
        "overlaps": _overlaps(session, scan),
    }


def _overlaps(session: Session, scan: FileScan) -> list[str]:
    """Other logs of the same format already scanned whose time range meets this one's."""
    first, last = scan.tally.first_event, scan.tally.last_event
    if first is None or scan.reader.matched is not None:
        return []
    others = session.scalars(
        select(ScannedLog).where(
            ScannedLog.format == scan.format,
            ScannedLog.id != scan.log_id,
            ScannedLog.first_event <= last,
            ScannedLog.last_event >= first,
        )
    )
    return [
        f"overlaps {other.name} (scanned {other.scanned_at:%Y-%m-%d %H:%M}, events "
        f"{other.first_event:%Y-%m-%d %H:%M} to {other.last_event:%Y-%m-%d %H:%M}): events in both "
        "are counted twice; scan with --since to count only newer ones"
        for other in others
    ]


def _fold_finding(session: Session, tally: FindingTally, report: ScanReport) -> Finding:
    finding = session.scalars(
        select(Finding).where(
            Finding.vendor_slug == tally.vendor_slug, Finding.department == tally.department
        )
    ).one_or_none()
    if finding is None:
        finding = Finding(
            vendor_slug=tally.vendor_slug,
            department=tally.department,
            status=FindingStatus.NEW,
            first_seen=tally.first,
            last_seen=tally.last,
            requests=0,
            volume=0,
            spend={},
            sources=[],
            users=[],
            kinds=[],
        )
        session.add(finding)
        report.new_findings += 1
    finding.vendor_name = tally.vendor_name
    finding.state, finding.tool_slug, finding.request_id = (
        tally.state,
        tally.tool_slug,
        tally.request_id,
    )
    finding.first_seen = min(finding.first_seen, tally.first)
    finding.last_seen = max(finding.last_seen, tally.last)
    finding.requests += tally.requests
    finding.volume += tally.volume
    spend = dict(finding.spend)
    for currency, amount in tally.spend.items():
        spend[currency] = spend.get(currency, 0) + amount
    finding.spend = spend
    finding.sources = sorted(set(finding.sources) | tally.sources)[:DISTINCT_CAP]
    finding.users = sorted(set(finding.users) | tally.users)[:DISTINCT_CAP]
    finding.kinds = sorted(set(finding.kinds) | tally.kinds)
    return finding


def _fold_unknown(
    session: Session, seen: dict[tuple[str, str], UnknownTally], threshold: int
) -> list[dict]:
    stored = {(row.kind, row.name): row for row in session.scalars(select(UnknownName))}
    listed = []
    for (kind, name), entry in sorted(seen.items(), key=lambda item: -item[1].hits):
        row = stored.get((kind, name))
        if row is None and entry.hits < threshold:
            continue
        if row is None:
            row = UnknownName(kind=kind, name=name, hits=0, first_seen=entry.first)
            row.last_seen = entry.last
            session.add(row)
        row.hits += entry.hits
        row.first_seen, row.last_seen = (
            min(row.first_seen, entry.first),
            max(row.last_seen, entry.last),
        )
        listed.append({"kind": kind, "name": name, "hits": entry.hits, "total_hits": row.hits})
    return listed

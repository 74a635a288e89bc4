"""DNS query logs: BIND's query log (``category queries``) and dnsmasq's ``log-queries``.

BIND: ``03-Dec-2026 10:00:00.123 [queries: info: ]client @0x7f.. 10.1.2.3#53421
(name): query: name IN A +E(0)K (10.0.0.53)``. dnsmasq (syslog): ``Dec  3 10:00:00
dnsmasq[812]: query[A] name from 10.1.2.3``; syslog has no year, so the scan's year is
assumed, and the year before for a date that would lie in the future.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from catalog.shadow_it.evidence import Event, Malformed, Parsed, clip

BIND = re.compile(
    r"^(?P<time>\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?) .*?"
    r"client (?:@0x[0-9a-f]+ )?(?P<source>[0-9a-fA-F.:]+)#\d+(?: \([^)]*\))?: "
    r"query: (?P<name>\S+) IN "
)
DNSMASQ = re.compile(
    r"^(?P<time>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) \S+ dnsmasq(?:\[\d+\])?: "
    r"query\[\w+\] (?P<name>\S+) from (?P<source>[0-9a-fA-F.:]+)\s*$"
)
#: lines of other kinds (BIND's other categories; dnsmasq's forwarded, reply, cached...):
#: not evidence, not malformed either
BIND_OTHER = re.compile(r"^\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}")
DNSMASQ_OTHER = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \S+ dnsmasq(?:\[\d+\])?: ")


def looks_like(line: str) -> bool:
    return bool(BIND.match(line) or DNSMASQ_OTHER.match(line))


def parse(lines: Iterable[tuple[int, str]], now: datetime) -> Iterator[Parsed]:
    for number, text in lines:
        if not text.strip():
            continue
        if found := BIND.match(text):
            moment = _bind_time(found["time"])
            yield _event(number, moment, found) if moment else _unreadable(number, text)
        elif found := DNSMASQ.match(text):
            yield _event(number, _syslog_time(found["time"], now), found)
        elif not (DNSMASQ_OTHER.match(text) or BIND_OTHER.match(text)):
            yield Malformed(number, clip(text), "not a BIND or dnsmasq query log line")


def _event(number: int, moment: datetime, found: re.Match) -> Event:
    return Event(number, moment, found["source"], host=found["name"].rstrip(".").lower())


def _unreadable(number: int, text: str) -> Malformed:
    return Malformed(number, clip(text), "unreadable time")


def _bind_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.split(".")[0], "%d-%b-%Y %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _syslog_time(text: str, now: datetime) -> datetime:
    moment = datetime.strptime(f"{now.year} {text}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    return moment.replace(year=now.year - 1) if moment > now else moment

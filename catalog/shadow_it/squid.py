"""Squid's access.log: the native format, and the Apache common/combined formats that
Squid writes when configured with ``logformat common`` or ``combined``.

Native: ``time elapsed client code/status bytes method URL user hierarchy/peer type``;
a CONNECT's URL is ``host:port``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from catalog.shadow_it.evidence import Event, Malformed, Parsed, clip, from_epoch, host_of

NATIVE = re.compile(
    r"^(?P<time>\d+(?:\.\d+)?)\s+\d+\s+(?P<source>\S+)\s+\S+/\d{3}\s+(?P<bytes>\d+)\s+"
    r"(?P<method>[A-Z_]+)\s+(?P<url>\S+)\s+(?P<user>\S+)(?:\s+\S+){0,2}\s*$"
)
COMMON = re.compile(
    r"^(?P<source>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    r'"(?P<method>[A-Z_]+) (?P<url>\S+)(?: [^"]*)?" \d{3} (?P<bytes>\d+|-)(?: .*)?$'
)
COMMON_TIME = "%d/%b/%Y:%H:%M:%S %z"


def looks_like(line: str) -> bool:
    return bool(NATIVE.match(line) or COMMON.match(line))


def parse(lines: Iterable[tuple[int, str]]) -> Iterator[Parsed]:
    for number, text in lines:
        if not text.strip():
            continue
        yield (
            _native(number, text)
            or _common(number, text)
            or Malformed(
                number, clip(text), "not a Squid access.log line (native, common or combined)"
            )
        )


def _native(number: int, text: str) -> Event | None:
    found = NATIVE.match(text)
    if found is None:
        return None
    return _event(number, from_epoch(found["time"]), found)


def _common(number: int, text: str) -> Event | Malformed | None:
    found = COMMON.match(text)
    if found is None:
        return None
    try:
        moment = datetime.strptime(found["time"], COMMON_TIME)
    except ValueError:
        return Malformed(number, clip(text), f"unreadable time {found['time']!r}")
    return _event(number, moment, found)


def _event(number: int, moment: datetime, found: re.Match) -> Event | Malformed:
    host = host_of(found["url"])
    if host is None:
        return Malformed(number, clip(found.string), "no host in the URL")
    user = found["user"]
    return Event(
        number,
        moment,
        found["source"],
        user=None if user == "-" else user,
        host=host,
        volume=int(found["bytes"]) if found["bytes"] != "-" else 0,
    )

"""What a parser makes of one line of evidence: an event (someone reached a host, or paid a
merchant), or a malformed line kept with its number and the reason it was not understood."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(slots=True, frozen=True)
class Event:
    line: int
    time: datetime | None
    #: the client's IP address, as the log wrote it
    source: str | None
    user: str | None = None
    department: str | None = None
    host: str | None = None
    merchant: str | None = None
    #: bytes transferred, where the log says
    volume: int = 0
    #: spend in the currency's minor units (cents), for card and expense lines
    amount: int = 0
    currency: str | None = None


@dataclass(slots=True, frozen=True)
class Malformed:
    line: int
    text: str
    reason: str


Parsed = Event | Malformed


def from_epoch(text: str) -> datetime:
    return datetime.fromtimestamp(float(text), UTC)


def parse_time(text: str) -> datetime:
    """ISO 8601 (UTC unless zoned) or seconds since the epoch; ValueError otherwise."""
    text = text.strip()
    try:
        return from_epoch(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def host_of(text: str) -> str | None:
    """The host name in a URL, ``host:port`` or bare host; None if there is none."""
    text = text.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if text.startswith("["):
        return text[1 : text.find("]")] or None
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    text = text.rstrip(".").lower()
    return text if text and " " not in text else None


def clip(text: str, limit: int = 300) -> str:
    """A malformed line as a report quotes it: one line, not too long."""
    text = text.rstrip("\r\n")
    return text if len(text) <= limit else text[:limit] + "…"

"""What a scan counts, in memory bounded by the number of vendors, departments and
distinct names rather than by the number of lines."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from catalog.shadow_it.evidence import Event, Malformed

#: distinct sources and users kept per finding; beyond, the count reads "at least"
DISTINCT_CAP = 1000
#: malformed lines quoted per file
SAMPLE_LIMIT = 5
#: unknown names tracked per scan; beyond, the rarest are forgotten
UNKNOWN_CAP = 50_000


@dataclass
class FindingTally:
    vendor_slug: str
    vendor_name: str
    department: str
    state: str
    tool_slug: str | None
    request_id: int | None
    first: datetime | None = None
    last: datetime | None = None
    requests: int = 0
    volume: int = 0
    spend: Counter = field(default_factory=Counter)
    sources: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)

    def add(self, event: Event, kind: str, moment: datetime) -> None:
        if self.first is None or moment < self.first:
            self.first = moment
        if self.last is None or moment > self.last:
            self.last = moment
        self.requests += 1
        self.volume += event.volume
        if event.currency:
            self.spend[event.currency] += event.amount
        if event.source and len(self.sources) < DISTINCT_CAP:
            self.sources.add(event.source)
        if event.user and len(self.users) < DISTINCT_CAP:
            self.users.add(event.user)
        self.kinds.add(kind)

    def merge(self, other: FindingTally) -> None:
        self.first = earliest(self.first, other.first)
        self.last = latest(self.last, other.last)
        self.requests += other.requests
        self.volume += other.volume
        self.spend.update(other.spend)
        self.sources = set(sorted(self.sources | other.sources)[:DISTINCT_CAP])
        self.users = set(sorted(self.users | other.users)[:DISTINCT_CAP])
        self.kinds |= other.kinds


@dataclass
class UnknownTally:
    hits: int
    first: datetime
    last: datetime


@dataclass
class Tally:
    findings: dict[tuple[str, str], FindingTally] = field(default_factory=dict)
    unknown: dict[tuple[str, str], UnknownTally] = field(default_factory=dict)
    events: int = 0
    #: events of approved tools used as approved (through the gateway, or their website)
    sanctioned: int = 0
    #: hosts with no registrable domain (IP addresses, single labels)
    no_domain: int = 0
    #: events older than the scan's ``--since``
    before_since: int = 0
    malformed: int = 0
    samples: list[Malformed] = field(default_factory=list)
    first_event: datetime | None = None
    last_event: datetime | None = None

    def saw(self, moment: datetime | None) -> None:
        self.events += 1
        if moment is not None:
            if self.first_event is None or moment < self.first_event:
                self.first_event = moment
            if self.last_event is None or moment > self.last_event:
                self.last_event = moment

    def bad_line(self, malformed: Malformed) -> None:
        self.malformed += 1
        if len(self.samples) < SAMPLE_LIMIT:
            self.samples.append(malformed)

    def unknown_name(self, kind: str, name: str, moment: datetime) -> None:
        found = self.unknown.get((kind, name))
        if found is None:
            if len(self.unknown) >= UNKNOWN_CAP:
                self._forget_rarest()
            self.unknown[(kind, name)] = UnknownTally(1, moment, moment)
            return
        found.hits += 1
        found.first = min(found.first, moment)
        found.last = max(found.last, moment)

    def _forget_rarest(self) -> None:
        floor = min(entry.hits for entry in self.unknown.values())
        for key in [key for key, entry in self.unknown.items() if entry.hits <= floor]:
            del self.unknown[key]

    def merge(self, other: Tally) -> None:
        for key, finding in other.findings.items():
            if key in self.findings:
                self.findings[key].merge(finding)
            else:
                self.findings[key] = finding
        for key, entry in other.unknown.items():
            mine = self.unknown.setdefault(key, UnknownTally(0, entry.first, entry.last))
            mine.hits += entry.hits
            mine.first, mine.last = min(mine.first, entry.first), max(mine.last, entry.last)
        self.events += other.events
        self.sanctioned += other.sanctioned
        self.no_domain += other.no_domain
        self.before_since += other.before_since
        self.malformed += other.malformed
        self.samples = (self.samples + other.samples)[:SAMPLE_LIMIT]
        self.first_event = earliest(self.first_event, other.first_event)
        self.last_event = latest(self.last_event, other.last_event)


def earliest(one: datetime | None, other: datetime | None) -> datetime | None:
    return min((m for m in (one, other) if m is not None), default=None)


def latest(one: datetime | None, other: datetime | None) -> datetime | None:
    return max((m for m in (one, other) if m is not None), default=None)

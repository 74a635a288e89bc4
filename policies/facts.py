"""What the engine is told about one exchange; built by the gateway from its snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType


@dataclass(frozen=True)
class ToolFacts:
    slug: str
    status: str
    country: str | None
    transfer_basis: str | None
    review_due: date | None
    iab_vendor_id: int | None = None


@dataclass(frozen=True)
class GrantFacts:
    """A department's permission to use one tool."""

    purposes: frozenset[str]
    data_categories: frozenset[str]
    mode: str
    expires: date | None


@dataclass(frozen=True)
class DataFact:
    """A field of the request holding data of a category, at a concrete JSON pointer."""

    pointer: str
    category: str


@dataclass(frozen=True)
class SubjectFact:
    """A person in the request: keyed hash (``None`` if unreadable) and where they are."""

    key: str | None
    location: str
    #: The batch item that holds this person (``/members/3``); ``None`` in a single call.
    item: str | None = None


@dataclass(frozen=True)
class ConsentFact:
    """A person's current consent state for one purpose, from the consent registry."""

    purpose: str
    granted: bool
    expires_at: datetime | None
    event_id: int


@dataclass(frozen=True)
class Signals:
    """Privacy signals the app relayed from the person's browser."""

    gpc: bool = False
    tc_string: str | None = None


@dataclass(frozen=True)
class ExchangeFacts:
    client_id: str
    department: str
    tool: ToolFacts
    grant: GrantFacts | None
    now: datetime
    #: The fideslang data use the app declared (``X-Purpose``) or the operation's default.
    purpose: str = ""
    data: tuple[DataFact, ...] = ()
    subjects: tuple[SubjectFact, ...] = ()
    #: Consent states by subject key, for the subjects of this request.
    consents: Mapping[str, tuple[ConsentFact, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    signals: Signals = Signals()

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(found.category for found in self.data)

"""What the engine is told about one exchange; built by the gateway from its snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class ToolFacts:
    slug: str
    status: str
    country: str | None
    transfer_basis: str | None
    review_due: date | None


@dataclass(frozen=True)
class GrantFacts:
    """A department's permission to use one tool."""

    purposes: frozenset[str]
    data_categories: frozenset[str]
    mode: str
    expires: date | None


@dataclass(frozen=True)
class ExchangeFacts:
    client_id: str
    department: str
    tool: ToolFacts
    grant: GrantFacts | None
    today: date
    #: The fideslang data use the app declared (``X-Purpose``) or the operation's default.
    purpose: str = ""
    #: The fideslang data categories found in the request.
    data_categories: frozenset[str] = frozenset()
    #: Keyed hashes of the data subjects; ``None`` for an identifier that could not be read.
    subject_keys: tuple[str | None, ...] = ()

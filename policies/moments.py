"""Points in time given from outside (API, imports, search filters), kept storable.

Python's ``datetime`` ends at year 9999 and converting a time near either end to UTC
overflows; PostgreSQL hands a stored time back in its session's zone, which can push it
past year 9999 again. Every time the gateway accepts therefore lies well inside both:
from :data:`EARLIEST` to :data:`LATEST`, whatever zone it was written in.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def storable_utc(moment: datetime, name: str) -> datetime:
    """``moment`` (zone-aware) in UTC, or ``ValueError`` naming ``name`` if out of range."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"{name} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return utc

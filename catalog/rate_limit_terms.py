"""Rate limits and quotas as IT writes them: ``100/minute``, ``10000/day``, ``500000/month``.

A tool carries its own limits (all apps together) and the vendor's quota (what its plan
allows); a grant carries the limits of each app of the department and of the department
as a whole. Every writer (``gatehouse apply``, the API, the portal) checks them here with
the ``limits`` library's own parser, so a limit that is stored is one the proxy can
enforce. A month is the library's: 30 days, counted as a moving window (not the calendar
month a vendor may bill by). Each limit is kept in one spelling, ``N/unit`` or
``N/M units``, so applying the same file twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse

#: Who a grant's limits count: each app of the department, or the department as a whole.
GRANT_SCOPES = ("per_app", "per_department")
#: What a tool does with its calls when the shared store of the counters is unreachable.
STORE_OUTAGE_CHOICES = ("open", "closed")
DEFAULT_STORE_OUTAGE = "open"
UNITS = "second, minute, hour, day, month (30 days) or year"
MAX_LIMITS = 10


@dataclass(frozen=True)
class ToolLimits:
    """A tool's limits as the proxy enforces them, parsed once per catalog snapshot."""

    rate_limits: tuple[RateLimitItem, ...] = ()
    vendor_quota: tuple[RateLimitItem, ...] = ()
    on_store_outage: str = DEFAULT_STORE_OUTAGE

    @classmethod
    def of(cls, rate_limits: list[str], vendor_quota: list[str], on_store_outage: str):
        return cls(
            tuple(map(rate, rate_limits or ())),
            tuple(map(rate, vendor_quota or ())),
            on_store_outage or DEFAULT_STORE_OUTAGE,
        )


@dataclass(frozen=True)
class GrantLimits:
    """A grant's limits as the proxy enforces them."""

    per_app: tuple[RateLimitItem, ...] = ()
    per_department: tuple[RateLimitItem, ...] = ()

    @classmethod
    def of(cls, limits: dict[str, list[str]] | None):
        limits = limits or {}
        return cls(
            tuple(map(rate, limits.get("per_app", ()))),
            tuple(map(rate, limits.get("per_department", ()))),
        )


NO_GRANT_LIMITS = GrantLimits()
NO_TOOL_LIMITS = ToolLimits()


def rate(text: str) -> RateLimitItem:
    """The limit ``text`` names, or ValueError saying how to write one."""
    try:
        item = parse(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a rate limit: write calls per unit, like 100/minute (units: {UNITS})"
        ) from None
    if item.amount < 1:
        raise ValueError(f"{text!r} allows no call at all; suspend the tool instead")
    return item


def spelled(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    if item.multiples == 1:
        return f"{item.amount}/{unit}"
    return f"{item.amount}/{item.multiples} {unit}s"


def rate_list(value: Any) -> list[str]:
    """One limit, several separated by commas, or a list of them, checked, each in its one
    spelling and shortest window first; ValueError if one is not a limit."""
    given = value.replace(";", ",").split(",") if isinstance(value, str) else value
    if not isinstance(given, list) or not all(isinstance(text, str) for text in given):
        raise ValueError("must be a rate limit like 100/minute, or a list of them")
    texts = [text.strip() for text in given if text.strip()]
    if len(texts) > MAX_LIMITS:
        raise ValueError(f"at most {MAX_LIMITS} limits")
    return sorted({spelled(rate(text)) for text in texts}, key=_window_then_text)


class GrantLimitsError(ValueError):
    """A grant's limits are wrong at ``pointer`` (``""`` or ``/per_app``, ...)."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer


def grant_limits(value: Any) -> dict[str, list[str]]:
    """A grant's limits, ``{"per_app": [...], "per_department": [...]}``, checked; scopes
    without a limit are left out. :class:`GrantLimitsError` says where one is wrong."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GrantLimitsError("", f"must be an object with {' and/or '.join(GRANT_SCOPES)}")
    unknown = sorted(set(value) - set(GRANT_SCOPES))
    if unknown:
        raise GrantLimitsError(
            f"/{unknown[0]}", f"not a scope of limits (give {', '.join(GRANT_SCOPES)})"
        )
    checked = {}
    for scope in GRANT_SCOPES:
        try:
            texts = rate_list(value.get(scope) or [])
        except ValueError as exc:
            raise GrantLimitsError(f"/{scope}", str(exc)) from None
        if texts:
            checked[scope] = texts
    return checked


def checked_grant_limits(value: Any, where: str, problems: list[dict]) -> dict[str, list[str]]:
    """:func:`grant_limits`, a problem appended (pointing under ``where``) instead of raised."""
    try:
        return grant_limits(value)
    except GrantLimitsError as exc:
        problems.append({"pointer": where + exc.pointer, "message": str(exc)})
        return {}


def store_outage(value: Any) -> str:
    if value not in STORE_OUTAGE_CHOICES:
        raise ValueError(f"must be {' or '.join(STORE_OUTAGE_CHOICES)}")
    return value


def _window_then_text(text: str) -> tuple[int, str]:
    return parse(text).get_expiry(), text

"""The formats a scan reads, and ``auto``: telling them apart by the first lines."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from catalog.errors import Invalid
from catalog.shadow_it import dns_logs, expenses, exports, squid, zeek
from catalog.shadow_it.evidence import Parsed

FORMATS = ("auto", "squid", "dns", "zeek", "csv", "expenses")


@dataclass(frozen=True)
class ParseOptions:
    #: field → column name, from ``--columns``
    columns: dict[str, str] = field(default_factory=dict)
    #: the currency of expense lines that name none
    currency: str = "EUR"


def sniff(first: list[str]) -> str:
    """The format of a file whose first lines are ``first``; Invalid if none fits."""
    lines = [line for line in first if line.strip()]
    if not lines:
        raise Invalid("the file is empty")
    if any(zeek.looks_like(line) for line in lines[:3]):
        return "zeek"
    if lines[0].lstrip().startswith("{"):
        return "csv"
    if sum(squid.looks_like(line) for line in lines) * 2 > len(lines):
        return "squid"
    if sum(dns_logs.looks_like(line) for line in lines) * 2 > len(lines):
        return "dns"
    header = next(csv.reader([lines[0]]))
    if len(header) > 1:
        return "expenses" if expenses.looks_like(header) else "csv"
    raise Invalid(
        "cannot tell the format from the first lines; name it with --format "
        + "|".join(FORMATS[1:])
    )


def parser_for(
    name: str, lines: Iterable[tuple[int, str]], options: ParseOptions, now: datetime
) -> Iterator[Parsed]:
    if name == "squid":
        return squid.parse(lines)
    if name == "dns":
        return dns_logs.parse(lines, now)
    if name == "zeek":
        return zeek.parse(lines)
    if name == "csv":
        return exports.parse(lines, options.columns)
    if name == "expenses":
        return expenses.parse(lines, options.columns, options.currency)
    raise Invalid(f"unknown format {name!r}; formats: {', '.join(FORMATS)}")

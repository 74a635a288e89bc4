"""CSV and JSON Lines exports of proxies and firewalls: one connection or request a row,
its columns named by ``--columns`` or found by their usual names (see ``columns``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping

from catalog.errors import Invalid
from catalog.shadow_it.columns import EXPORT_FIELDS, resolve
from catalog.shadow_it.evidence import Event, Malformed, Parsed, clip, host_of, parse_time


def parse(lines: Iterable[tuple[int, str]], mapping: Mapping[str, str]) -> Iterator[Parsed]:
    lines = iter(lines)
    for number, text in lines:
        if text.strip():
            rows = _json_rows if text.lstrip().startswith("{") else _csv_rows
            yield from rows(number, text, lines, mapping)
            return


def _json_rows(first, text, lines, mapping) -> Iterator[Parsed]:
    columns: dict[str, str] | None = None
    for number, line in _chain(first, text, lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            yield Malformed(number, clip(line), "not valid JSON")
            continue
        if not isinstance(record, dict):
            yield Malformed(number, clip(line), "not a JSON object")
            continue
        if columns is None:
            columns = _required(resolve(list(record), EXPORT_FIELDS, mapping))
        yield _event(number, line, {field: record.get(column) for field, column in columns.items()})


def _csv_rows(first, text, lines, mapping) -> Iterator[Parsed]:
    numbered = _chain(first, text, lines)
    numbers: list[int] = []

    def texts():
        for number, line in numbered:
            numbers.append(number)
            yield line

    reader = csv.reader(texts())
    header = next(reader)
    columns = _required(resolve(header, EXPORT_FIELDS, mapping))
    positions = {field: header.index(column) for field, column in columns.items()}
    for row in reader:
        number = numbers[-1]
        del numbers[:-1]
        if not row:
            continue
        if len(row) != len(header):
            yield Malformed(
                number, clip(",".join(row)), f"{len(row)} columns, header has {len(header)}"
            )
            continue
        yield _event(number, ",".join(row), {field: row[at] for field, at in positions.items()})


def _chain(first: int, text: str, lines: Iterator[tuple[int, str]]):
    yield first, text
    yield from lines


def _required(columns: dict[str, str]) -> dict[str, str]:
    if "host" not in columns:
        raise Invalid(
            "the export has no host column; name it with --columns host=COLUMN "
            "(and source=, user=, department=, time=, bytes=)"
        )
    return columns


def _event(number: int, text: str, values: dict) -> Parsed:
    host = host_of(str(values.get("host") or ""))
    if host is None:
        return Malformed(number, clip(text), "no host")
    try:
        moment = parse_time(str(values["time"])) if values.get("time") else None
        volume = int(float(values.get("bytes") or 0))
    except (ValueError, TypeError, OverflowError):
        return Malformed(number, clip(text), "unreadable time or byte count")
    return Event(
        number,
        moment,
        _text(values.get("source")),
        user=_text(values.get("user")),
        department=_text(values.get("department")),
        host=host,
        volume=volume,
    )


def _text(value) -> str | None:
    return str(value).strip() or None if value not in (None, "", "-") else None

"""The history written out for auditors and spreadsheets: JSON Lines or CSV.

One change per line, oldest first, in the shape the API returns. CSV cells that a
spreadsheet would run as a formula (a tool named ``=HYPERLINK(...)``) are written with a
leading apostrophe, so an export opened in a spreadsheet shows text and runs nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from catalog.history import ChangeEvent

#: Text answers get ``; charset=utf-8`` from Flask.
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
FORMATS = tuple(MEDIA_TYPES)
CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_label",
    "source",
    "object_type",
    "object_id",
    "object_label",
    "action",
    "before",
    "after",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_lines(events: Iterable[ChangeEvent], file_format: str) -> Iterator[str]:
    if file_format not in MEDIA_TYPES:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if file_format == "jsonl":
        for event in events:
            yield json.dumps(event.as_dict(), ensure_ascii=False, sort_keys=True) + "\n"
        return
    yield _csv_row(CSV_COLUMNS)
    for event in events:
        yield _csv_row(_csv_cells(event))


def _csv_cells(event: ChangeEvent) -> list[str]:
    return [
        str(event.id),
        event.occurred_at.isoformat(),
        event.actor_kind,
        event.actor_id,
        event.actor_label,
        event.source,
        event.object_type,
        event.object_id,
        event.object_label,
        event.action,
        _json_cell(event.before),
        _json_cell(event.after),
    ]


def _json_cell(value: dict | None) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _csv_row(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_inert(cell) for cell in cells])
    return buffer.getvalue()


def _inert(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell

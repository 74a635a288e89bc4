"""Zeek's ``dns.log``, ``http.log`` and ``ssl.log``, in the TSV format (``#fields`` header)
or the JSON one (``LogAscii::use_json``, one object a line).

Which log a line belongs to is told by its fields: ``query`` (dns), ``host`` (http),
``server_name`` (ssl, the TLS SNI). The client is ``id.orig_h``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from catalog.shadow_it.evidence import Event, Malformed, Parsed, clip, parse_time

HOST_FIELDS = ("query", "host", "server_name")
BYTE_FIELDS = ("request_body_len", "response_body_len")


def looks_like(line: str) -> bool:
    if line.startswith(("#separator", "#fields")):
        return True
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return False
        return isinstance(record, dict) and "id.orig_h" in record
    return False


def parse(lines: Iterable[tuple[int, str]]) -> Iterator[Parsed]:
    reader = _TsvHeader()
    for number, text in lines:
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        if text.startswith("{"):
            yield _json_line(number, text)
        elif text.startswith("#"):
            reader.directive(text)
        elif reader.fields is None:
            yield Malformed(number, clip(text), "a data line before the #fields header")
        else:
            yield reader.line(number, text)


class _TsvHeader:
    def __init__(self) -> None:
        self.separator = "\t"
        self.unset = "-"
        self.fields: list[str] | None = None

    def directive(self, text: str) -> None:
        if text.startswith("#separator "):
            self.separator = text.split(" ", 1)[1].strip().encode().decode("unicode_escape")
            return
        name, _, value = text[1:].partition(self.separator)
        if name == "unset_field":
            self.unset = value
        elif name == "fields":
            self.fields = value.split(self.separator)

    def line(self, number: int, text: str) -> Parsed:
        values = text.split(self.separator)
        if len(values) != len(self.fields):
            return Malformed(
                number, clip(text), f"{len(values)} fields where #fields names {len(self.fields)}"
            )
        record = {
            name: value
            for name, value in zip(self.fields, values, strict=True)
            if value != self.unset
        }
        return _event(number, text, record)


def _json_line(number: int, text: str) -> Parsed:
    try:
        record = json.loads(text)
    except ValueError:
        return Malformed(number, clip(text), "not valid JSON")
    if not isinstance(record, dict):
        return Malformed(number, clip(text), "not a JSON object")
    return _event(number, text, record)


def _event(number: int, text: str, record: dict) -> Parsed:
    host = next((record[name] for name in HOST_FIELDS if record.get(name)), None)
    if not isinstance(host, str):
        return Malformed(number, clip(text), "no query, host or server_name")
    try:
        moment = parse_time(str(record["ts"]))
        volume = sum(int(record.get(name) or 0) for name in BYTE_FIELDS)
    except (KeyError, ValueError, TypeError):
        return Malformed(number, clip(text), "missing or unreadable ts or byte counts")
    source = record.get("id.orig_h")
    return Event(
        number,
        moment,
        source if isinstance(source, str) else None,
        host=host.split(":")[0].rstrip(".").lower(),
        volume=volume,
    )

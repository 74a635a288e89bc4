"""Card and expense exports (CSV): one payment a row, the vendor known by its merchant name.

Columns by ``--columns`` or their usual names: merchant, amount, currency, date, and the
employee and department who spent. Amounts are read as decimals (``1,234.50`` and
``1234,50`` both work) and kept in the currency's minor units.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation

from catalog.errors import Invalid
from catalog.shadow_it.columns import EXPENSE_FIELDS, resolve
from catalog.shadow_it.evidence import Event, Malformed, Parsed, clip, parse_time

CURRENCY = re.compile(r"^[A-Z]{3}$")


def looks_like(header: list[str]) -> bool:
    found = resolve(header, EXPENSE_FIELDS, {})
    return "merchant" in found and "amount" in found


def parse(
    lines: Iterable[tuple[int, str]], mapping: Mapping[str, str], default_currency: str
) -> Iterator[Parsed]:
    numbers: list[int] = []

    def texts():
        for number, line in lines:
            numbers.append(number)
            yield line

    reader = csv.reader(texts())
    header = next(reader, None)
    if header is None:
        return
    columns = resolve(header, EXPENSE_FIELDS, mapping)
    if "merchant" not in columns or "amount" not in columns:
        raise Invalid(
            "the expense file needs merchant and amount columns; name them with "
            "--columns merchant=COLUMN,amount=COLUMN"
        )
    positions = {field: header.index(column) for field, column in columns.items()}
    for row in reader:
        number = numbers[-1]
        del numbers[:-1]
        if not any(cell.strip() for cell in row):
            continue
        text = ",".join(row)
        if len(row) != len(header):
            yield Malformed(number, clip(text), f"{len(row)} columns, header has {len(header)}")
            continue
        values = {field: row[at].strip() for field, at in positions.items()}
        yield _event(number, text, values, default_currency)


def _event(number: int, text: str, values: dict, default_currency: str) -> Parsed:
    if not values["merchant"]:
        return Malformed(number, clip(text), "no merchant name")
    amount = _minor_units(values["amount"])
    if amount is None:
        return Malformed(number, clip(text), f"unreadable amount {values['amount']!r}")
    currency = (values.get("currency") or default_currency).upper()
    if not CURRENCY.match(currency):
        return Malformed(number, clip(text), f"currency {currency!r} is not an ISO 4217 code")
    try:
        moment = parse_time(values["time"]) if values.get("time") else None
    except ValueError:
        return Malformed(number, clip(text), f"unreadable date {values['time']!r}")
    return Event(
        number,
        moment,
        None,
        user=values.get("user") or None,
        department=values.get("department") or None,
        merchant=values["merchant"],
        amount=amount,
        currency=currency,
    )


def _minor_units(text: str) -> int | None:
    cleaned = re.sub(r"[^\d,.\-]", "", text)
    if re.search(r",\d{2}$", cleaned):  # 1.234,50
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:
        return None
    return int((value * 100).to_integral_value()) if value.is_finite() else None

"""Which column of an export holds what: ``--columns host=dest_host,source=src_ip,...``.

Without a mapping, a column is found by its usual names (``host``, ``dest_host``,
``url``...; ``merchant``, ``description``...), compared case-insensitively with spaces
and hyphens read as underscores (``Merchant Name`` is ``merchant_name``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from catalog.errors import Invalid

#: The fields an event has, with the column names looked for when no mapping names one.
USUAL_NAMES = {
    "host": ("host", "hostname", "domain", "dest_host", "destination", "url", "sni", "fqdn"),
    "source": ("source", "src_ip", "source_ip", "client_ip", "client", "src"),
    "user": ("user", "username", "user_name", "employee", "cardholder", "email"),
    "department": ("department", "dept", "cost_center", "team"),
    "time": ("time", "timestamp", "date", "datetime", "transaction_date", "ts"),
    "bytes": ("bytes", "bytes_out", "bytes_sent", "sent_bytes", "size"),
    "merchant": ("merchant", "merchant_name", "description", "payee", "vendor"),
    "amount": ("amount", "total", "value"),
    "currency": ("currency", "currency_code"),
}
EXPORT_FIELDS = ("host", "source", "user", "department", "time", "bytes")
EXPENSE_FIELDS = ("merchant", "amount", "currency", "time", "user", "department")


def parse_mapping(text: str | None) -> dict[str, str]:
    """``host=dest_host,source=src_ip`` → ``{"host": "dest_host", "source": "src_ip"}``."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        field, equals, column = part.partition("=")
        field = field.strip()
        if not equals or not column.strip():
            raise Invalid(f"--columns: {part.strip()!r} is not FIELD=COLUMN")
        if field not in USUAL_NAMES:
            raise Invalid(f"--columns: unknown field {field!r}; fields: {', '.join(USUAL_NAMES)}")
        mapping[field] = column.strip()
    return mapping


def resolve(
    header: Sequence[str], wanted: Sequence[str], mapping: Mapping[str, str]
) -> dict[str, str]:
    """Field → the header's column for it; a mapped column missing from the header is refused."""
    by_lower = {_normal(name): name for name in header}
    resolved: dict[str, str] = {}
    for field in wanted:
        if field in mapping:
            column = by_lower.get(_normal(mapping[field]))
            if column is None:
                raise Invalid(f"--columns: the file has no column {mapping[field]!r} for {field}")
            resolved[field] = column
            continue
        usual = next((by_lower[name] for name in USUAL_NAMES[field] if name in by_lower), None)
        if usual is not None:
            resolved[field] = usual
    return resolved


def _normal(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())

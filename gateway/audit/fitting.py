"""Exchange records fitted to their columns before they are queued for the writer.

A record carries what clients sent (the path, the tool slug, a declared body size, parts
of the request quoted in reasons). A value the database would refuse (a NUL character,
text longer than its column, an integer beyond its column's range) must not reach the
group commit, where it would fail the records of every other request in the batch. So
each value is fitted here, in the request's thread, before the chain's encoding is worked
out: the hash covers exactly what is stored. A value of the wrong type is a bug of ours,
not a client's doing; it fails its own record alone (fail closed).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String

from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.db import UTCDateTime

#: What stands for a character no database column may hold (NUL, unpaired surrogates).
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
SUBJECT_KEY_LENGTH = ExchangeSubject.__table__.c.subject_key.type.length


def fit_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (columns of ``exchanges`` by name) as the database will take them."""
    columns = ExchangeRecord.__table__.c
    return {
        name: _fit(columns[name], value) if name in columns else value
        for name, value in values.items()
    }


def check_subject_keys(keys: list[str]) -> None:
    """Keyed hashes are made by the gateway: one that is not such a hash is refused."""
    for key in keys:
        if not isinstance(key, str) or not 0 < len(key) <= SUBJECT_KEY_LENGTH or "\0" in key:
            raise ValueError(f"not a subject key: {key!r:.80}")


def _fit(column, value: Any) -> Any:
    if value is None:
        if not column.nullable:
            raise ValueError(f"exchange record without {column.key}")
        return None
    kind = column.type
    if isinstance(kind, Boolean):
        return _typed(column, value, bool)
    if isinstance(kind, Integer):  # BigInteger included
        return _bounded(column, value, INT64 if isinstance(kind, BigInteger) else INT32)
    if isinstance(kind, Float):
        return _finite(column, value)
    if isinstance(kind, String):
        return _text(_typed(column, value, str), kind)
    if isinstance(kind, JSON):
        return _json(value)
    if isinstance(kind, UTCDateTime):
        return _typed(column, value, datetime)
    return value


def _typed(column, value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise TypeError(f"{column.key} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _bounded(column, value: Any, bounds: tuple[int, int]) -> int:
    """Clamped: a declared size beyond the column is recorded as the largest it holds."""
    low, high = bounds
    return min(max(_typed(column, value, int), low), high)


def _finite(column, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{column.key} must be a number, not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{column.key} must be finite, not {value}")
    return value


def _text(value: str, kind: String) -> str:
    cleaned = _clean(value)
    return cleaned[: kind.length] if kind.length else cleaned


def _clean(text: str) -> str:
    """NUL and unpaired surrogates replaced: PostgreSQL's text holds neither, and JSON
    in UTF-8 cannot spell a lone surrogate."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _json(value: Any) -> Any:
    """Every string inside, keys included, cleaned; numbers must be finite."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_clean(str(key)): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a JSON value must be finite, not {value}")
    return value

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
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String

from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.db import BIGINT_RANGE, UNSTORABLE, UTCDateTime

#: What stands for a character no database column may hold (NUL, surrogates).
REPLACEMENT = "\ufffd"
INT32 = (-(2**31), 2**31 - 1)
SUBJECT_KEY_LENGTH = ExchangeSubject.__table__.c.subject_key.type.length


def fit_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (columns of ``exchanges`` by name) as the database will take them."""
    return {
        name: _FITTERS[name](value) if name in _FITTERS else value for name, value in values.items()
    }


def check_subject_keys(keys: list[str]) -> None:
    """Keyed hashes are made by the gateway: one that is not such a hash is refused."""
    for key in keys:
        if not isinstance(key, str) or not 0 < len(key) <= SUBJECT_KEY_LENGTH or "\0" in key:
            raise ValueError(f"not a subject key: {key!r:.80}")


def _fitter(column) -> Callable[[Any], Any]:
    """The function that fits a value to ``column``, chosen once per column: fitting
    runs for every record, in the request's thread."""
    kind = column.type
    if isinstance(kind, Boolean):
        fit = partial(_typed, column, kind=bool)
    elif isinstance(kind, Integer):  # BigInteger included
        fit = partial(
            _bounded, column, bounds=BIGINT_RANGE if isinstance(kind, BigInteger) else INT32
        )
    elif isinstance(kind, Float):
        fit = partial(_finite, column)
    elif isinstance(kind, String):
        fit = partial(_text, column, length=kind.length)
    elif isinstance(kind, JSON):
        fit = _json
    elif isinstance(kind, UTCDateTime):
        fit = partial(_typed, column, kind=datetime)
    else:
        return lambda value: value
    return partial(_unless_null, column, fit)


def _unless_null(column, fit: Callable[[Any], Any], value: Any) -> Any:
    if value is not None:
        return fit(value)
    if not column.nullable:
        raise ValueError(f"exchange record without {column.key}")
    return None


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


def _text(column, value: Any, length: int | None) -> str:
    cleaned = _clean(_typed(column, value, str))
    return cleaned[:length] if length else cleaned


def _clean(text: str) -> str:
    """NUL and surrogates replaced: PostgreSQL's text holds neither, and UTF-8 cannot
    spell a surrogate."""
    if text.isascii() and "\0" not in text:  # nearly always: no copy
        return text
    return UNSTORABLE.sub(REPLACEMENT, text)


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


_FITTERS = {column.key: _fitter(column) for column in ExchangeRecord.__table__.c}

"""The hash chains that make the exchange log tamper-evident.

Two chains run through the ``exchanges`` table. The *record chain*, in ``seq`` order,
covers what was decided before anything left (who, what, which tool, the decision and
its reasons): ``record_hash = SHA-256(prev record_hash || canonical(record fields))``.
The *outcome chain*, in ``outcome_seq`` order, covers each completion (statuses,
latencies, sizes): ``outcome_hash = SHA-256(prev outcome_hash || record_hash ||
canonical(outcome fields))``. Changing, removing or reordering a row breaks a chain from
that row on; a signed checkpoint of both heads lets a verifier notice a cut-off tail.

``canonical`` is the JSON array of the covered fields in the order below (sorted object
keys, no whitespace, non-ASCII as is, times as UTC ISO 8601 with microseconds). Its first
elements are the sequence numbers, which only the writer knows, under the chain lock; so
the rest is encoded beforehand (:func:`encoded_after`) and the sequence numbers are put
in front of it then (:func:`record_link`, :func:`outcome_link`): the bytes hashed are the same.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring
from typing import Any, NamedTuple

GENESIS = "0" * 64


class ChainStart(NamedTuple):
    """Where both chains begin: before the first record, or at a retention anchor (the
    last record and outcome that pruning removed)."""

    seq: int = 0
    record_hash: str = GENESIS
    outcome_seq: int = 0
    outcome_hash: str = GENESIS


FROM_GENESIS = ChainStart()

#: What the record chain covers, in encoding order. Never reorder: old hashes depend on it.
RECORD_FIELDS = (
    "seq",
    "request_id",
    "started_at",
    "client_id",
    "department",
    "tool",
    "operation",
    "method",
    "path",
    "purpose",
    "data_categories",
    "categories_stripped",
    "subject_count",
    "subject_keys",
    "dropped_subject_keys",
    "consent_event_ids",
    "country",
    "transfer_basis",
    "decision",
    "reasons",
    "policy_version",
    "bytes_in",
)
#: What the outcome chain covers, in encoding order.
OUTCOME_FIELDS = (
    "outcome_seq",
    "seq",
    "completed_at",
    "status",
    "upstream_status",
    "error",
    "latency_ms",
    "upstream_latency_ms",
    "bytes_out",
    "retries",
)
#: Fields added to the end of a chain's list after records were written with it: left
#: out of the encoding while null, so that those records keep their hashes.
LATER_FIELDS = frozenset({"retries"})


def canonical(values: dict[str, Any], fields: tuple[str, ...]) -> bytes:
    """A stable byte encoding: fixed field order, sorted keys, UTC times, no whitespace.

    Latencies are rounded to microseconds where they are measured, so a float survives
    the trip through any database unchanged."""
    return _encode(_covered(values, fields)).encode()


def record_hash(previous: str, values: dict[str, Any]) -> str:
    return hashlib.sha256(previous.encode() + canonical(values, RECORD_FIELDS)).hexdigest()


def outcome_hash(previous: str, record: str, values: dict[str, Any]) -> str:
    payload = previous.encode() + record.encode() + canonical(values, OUTCOME_FIELDS)
    return hashlib.sha256(payload).hexdigest()


def encoded_after(values: dict[str, Any], fields: tuple[str, ...], count: int) -> bytes:
    """``canonical(values, fields)`` without its first ``count`` elements and the ``[``."""
    return _encode(_covered(values, fields[count:])).encode()[1:]


def _covered(values: dict[str, Any], fields: tuple[str, ...]) -> list:
    return without_later_nulls([values.get(name) for name in fields], fields)


def without_later_nulls(covered: list, fields: tuple[str, ...]) -> list:
    """``covered`` (the values of ``fields``, in order) as the encoding takes them."""
    while covered and covered[-1] is None and fields[len(covered) - 1] in LATER_FIELDS:
        covered.pop()
    return covered


def record_link(previous: str, seq: int, rest: bytes) -> str:
    """``record_hash`` of a record whose fields after ``seq`` encode to ``rest``."""
    return hashlib.sha256(b"%s[%d,%s" % (previous.encode(), seq, rest)).hexdigest()


def outcome_link(previous: str, record: str, outcome_seq: int, seq: int, rest: bytes) -> str:
    """``outcome_hash`` of an outcome whose fields after ``seq`` encode to ``rest``."""
    payload = b"%s%s[%d,%d,%s" % (previous.encode(), record.encode(), outcome_seq, seq, rest)
    return hashlib.sha256(payload).hexdigest()


def json_text(value: Any) -> str:
    """``value`` as the canonical encoding spells it: how the writer stores JSON columns,
    so that a verifier may take their stored text as part of the canonical encoding."""
    return _encode(value)


def _utc_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    raise TypeError(f"cannot encode {type(value).__name__} in an exchange record")


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_utc_text
)


def _one_c_encoder():
    """What ``_ENCODER.encode`` builds on every call (the C encoder with its settings),
    built once: that build cost more than the encoding of a record. No check for
    circular references: the values are rows and dicts made for them."""
    if c_make_encoder is None:  # not CPython
        return _ENCODER.encode
    encoder = c_make_encoder(None, _utc_text, encode_basestring, None, ":", ",", True, False, True)
    return lambda value: "".join(encoder(value, 0))


_encode = _one_c_encoder()

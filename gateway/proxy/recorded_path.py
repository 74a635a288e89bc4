"""The request path as the exchange log keeps it: with no person's identifier in it.

A path can name a person (``/contacts/ada@example.com/...``), and the log keeps people
only as keyed hashes. Each path parameter the matched operation declares as a subject
is recorded as its keyed hash (its ``{name}`` when the value cannot be read as an
identifier); any other segment that looks like an e-mail address or a phone number,
in a path that matched no operation too, is replaced by its keyed hash the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.spec import PARAM, Operation
from policies.subjects import normalise, subject_key

MAX_LENGTH = 2048


def masked_path(path: str, pepper: bytes) -> str:
    """The path with every segment that looks like an e-mail address or phone number
    replaced by its keyed hash."""
    return "/".join(_masked_segment(segment, pepper) for segment in path.split("/"))[:MAX_LENGTH]


def recorded_path(
    prefix: str, operation: Operation, params: Mapping[str, str], pepper: bytes
) -> str:
    """The path of a call that matched ``operation``, its subject parameters as keyed
    hashes; ``prefix`` is what precedes the operation's path (``/proxy/<tool>``)."""
    kinds = {s.path_param: s.kind for s in operation.subjects if s.path_param}

    def value(match) -> str:
        name = match.group(1)
        if name not in kinds:
            return params[name]
        return subject_key(pepper, kinds[name], params[name]) or f"{{{name}}}"

    return masked_path(prefix + PARAM.sub(value, operation.path), pepper)


def _masked_segment(segment: str, pepper: bytes) -> str:
    kind = _identifier_kind(segment)
    return segment if kind is None else subject_key(pepper, kind, segment) or segment


def _identifier_kind(segment: str) -> str | None:
    if "@" in segment and normalise("email", segment) is not None:
        return "email"
    if segment.startswith("+") and normalise("phone", segment) is not None:
        return "phone"
    return None

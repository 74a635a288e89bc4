"""Searching the exchange log: the filters auditors ask by, and cursor pagination.

One :class:`ExchangeFilter` serves the API, the CLI and exports, so a search and the
export of the same search always select the same records. A person is searched by
identifier (e-mail, phone or external id), hashed on arrival with the subject pepper:
the log holds only the keyed hash.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time

from sqlalchemy import Select, Text, cast, or_, select
from sqlalchemy.orm import Session

from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.db import BIGINT_RANGE
from policies.consent_import import IDENTIFIER_KINDS
from policies.moments import storable_utc
from policies.subjects import subject_key

DECISIONS = ("allow", "redact", "deny")
MAX_PAGE = 1000
#: What a cursor says: continue after this seq (oldest first) or before it (newest first).
AFTER, BEFORE = "after", "before"
#: Filters naming a vocabulary key: fideslang's dotted keys and our snake_case rule names.
KEY_SYNTAX = {
    "purpose": re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*"),
    "category": re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*"),
    "rule": re.compile(r"[a-z0-9_]+"),
}


class FilterError(ValueError):
    """A search parameter cannot be read; the message says which and why."""


@dataclass(frozen=True)
class ExchangeFilter:
    since: datetime | None = None
    until: datetime | None = None
    tool: str | None = None
    department: str | None = None
    client: str | None = None
    decision: str | None = None
    rule: str | None = None
    #: A fideslang data use; matches it and every use below it.
    purpose: str | None = None
    #: A fideslang data category; matches it and every category below it.
    category: str | None = None
    #: The keyed hash of the person searched for.
    subject_key: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str | None], pepper: bytes) -> ExchangeFilter:
        """Read the filter from query parameters or CLI options (unknown names ignored)."""
        values = {name: (params.get(name) or None) for name in FILTER_NAMES}
        for name in ("since", "until"):
            values[name] = _moment(name, values[name], end_of_day=name == "until")
        if values["decision"] and values["decision"] not in DECISIONS:
            raise FilterError(f"decision must be one of {', '.join(DECISIONS)}")
        for name, syntax in KEY_SYNTAX.items():
            if values[name] and not syntax.fullmatch(values[name]):
                raise FilterError(f"{name} {values[name][:100]!r} is not a {name} name")
        return cls(**values, subject_key=person_key(params, pepper))

    def described(self) -> dict:
        """The filter as recorded in the query log and export manifests (no identifier)."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(self).items()
            if value is not None
        }

    def statement(self) -> Select:
        """The matching records, in sequence order."""
        query = select(ExchangeRecord).order_by(ExchangeRecord.seq)
        record = ExchangeRecord
        for column, value in (
            (record.tool, self.tool),
            (record.department, self.department),
            (record.client_id, self.client),
            (record.decision, self.decision),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(record.started_at >= self.since)
        if self.until is not None:
            query = query.where(record.started_at <= self.until)
        if self.purpose is not None:
            query = query.where(
                or_(
                    record.purpose == self.purpose,
                    record.purpose.startswith(self.purpose + ".", autoescape=True),
                )
            )
        if self.category is not None:
            query = query.where(_json_list_has_key_under(record.data_categories, self.category))
        if self.rule is not None:
            query = query.where(_reasons_name_rule(self.rule))
        if self.subject_key is not None:
            named = select(ExchangeSubject.exchange_seq).where(
                ExchangeSubject.subject_key == self.subject_key
            )
            query = query.where(record.seq.in_(named))
        return query


#: The query parameters (and CLI options) a search takes, besides the person.
FILTER_NAMES = tuple(f.name for f in fields(ExchangeFilter) if f.name != "subject_key")


def person_key(params: Mapping[str, str | None], pepper: bytes) -> str | None:
    """The keyed hash of the one identifier given (email, phone or external_id), if any."""
    given = [(kind, params[kind]) for kind in IDENTIFIER_KINDS if params.get(kind)]
    if not given:
        return None
    if len(given) > 1:
        raise FilterError(f"give at most one of {', '.join(IDENTIFIER_KINDS)}")
    key = subject_key(pepper, *given[0])
    if key is None:
        raise FilterError(f"the {given[0][0]} given cannot be read as one")
    return key


@dataclass(frozen=True)
class Page:
    records: list[ExchangeRecord]
    next_cursor: str | None


def search(
    session: Session,
    where: ExchangeFilter,
    limit: int = 100,
    cursor: str | None = None,
    newest_first: bool = False,
) -> Page:
    """A page of matching records in sequence order (the API's), or newest first (what a
    person reading the log looks at first); ``cursor`` continues where a page ended."""
    if not 1 <= limit <= MAX_PAGE:
        raise FilterError(f"limit must be between 1 and {MAX_PAGE}")
    direction = BEFORE if newest_first else AFTER
    bound = _read_cursor(cursor, direction)
    statement = where.statement()
    if newest_first:
        statement = statement.order_by(None).order_by(ExchangeRecord.seq.desc())
        if bound is not None:
            statement = statement.where(ExchangeRecord.seq < bound)
    else:
        statement = statement.where(ExchangeRecord.seq > (bound or 0))
    records = list(session.scalars(statement.limit(limit + 1)))
    more = len(records) > limit
    records = records[:limit]
    return Page(records, _make_cursor(direction, records[-1].seq) if more else None)


def iter_matching(
    session: Session, where: ExchangeFilter, through_seq: int | None = None, batch: int = 1000
) -> Iterator[ExchangeRecord]:
    """Every matching record up to ``through_seq``, in sequence order, read in batches."""
    after = 0
    statement = where.statement()
    if through_seq is not None:
        statement = statement.where(ExchangeRecord.seq <= through_seq)
    while records := list(
        session.scalars(statement.where(ExchangeRecord.seq > after).limit(batch))
    ):
        yield from records
        after = records[-1].seq
        session.expunge_all()  # an export of millions of records keeps none in memory


def _moment(name: str, text: str | None, end_of_day: bool) -> datetime | None:
    """An ISO 8601 date or time; a time without a zone is UTC, a date covers its whole day."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.max if end_of_day else time.min, UTC)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FilterError(f"{name}: {text[:40]!r} is not an ISO 8601 date or time") from exc
    try:
        return storable_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC), name)
    except ValueError as exc:
        raise FilterError(str(exc)) from exc


def _json_list_has_key_under(column, key: str):
    """A JSON list of dotted keys holds ``key`` or a key below it (text match on the JSON,
    which both databases store as written: ``["user.contact.email", ...]``)."""
    as_text = cast(column, Text)
    return or_(
        as_text.contains(f'"{key}"', autoescape=True),
        as_text.contains(f'"{key}.', autoescape=True),
    )


def _reasons_name_rule(rule: str):
    as_text = cast(ExchangeRecord.reasons, Text)
    return or_(
        as_text.contains(f'"rule": "{rule}"', autoescape=True),
        as_text.contains(f'"rule":"{rule}"', autoescape=True),
    )


def _make_cursor(direction: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}:{seq}".encode()).decode().rstrip("=")


def _read_cursor(cursor: str | None, direction: str) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, seq = text.split(":")
        if prefix != direction or not (
            seq.isascii() and seq.isdigit() and int(seq) <= BIGINT_RANGE[1]
        ):
            raise ValueError(text)
    except ValueError as exc:
        raise FilterError("cursor is not one this API returned") from exc
    return int(seq)

"""The exchange log for auditors: the search of the auditor API with every filter, newest
first and paged by cursor, and each record in full. Each search and each record read is
recorded in the auditors' trail, as the API records its searches."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from flask import current_app, render_template, request

from gateway.api import inputs
from gateway.audit.detail import exchange_detail
from gateway.audit.export import FORMATS, unknown_outcome_cutoff
from gateway.audit.search import (
    DECISIONS,
    FILTER_NAMES,
    MAX_PAGE,
    ExchangeFilter,
    FilterError,
    search,
)
from gateway.config import config_of
from gateway.db import db
from gateway.errors import Problem
from gateway.portal import access
from gateway.portal.audit_section import PERMISSION, pepper, record
from gateway.portal.blueprint import bp
from policies.consent_import import IDENTIFIER_KINDS

#: Records per page unless ``limit`` asks otherwise (the API's default page).
PER_PAGE = 100
#: The form's fields: the API's filters, then the person by one identifier.
FIELDS = (*FILTER_NAMES, *IDENTIFIER_KINDS)


@bp.get("/exchanges")
@access.page(PERMISSION)
def exchanges():
    given = {name: request.args.get(name, "").strip() for name in FIELDS}
    cursor = request.args.get("cursor") or None
    limit = inputs.query_integer("limit", PER_PAGE, 1, MAX_PAGE)
    try:
        where = ExchangeFilter.from_params(given, pepper())
        page = search(db.session, where, limit, cursor, newest_first=True)
    except FilterError as exc:
        return _page(given, None, str(exc)), 400
    record("search", where.described(), len(page.records))
    db.session.commit()
    return _page(given, page, None, continued=cursor is not None)


@bp.get("/exchanges/<int:seq>")
@access.page(PERMISSION)
def exchange(seq: int):
    detail = exchange_detail(db.session, seq)
    if detail is None:
        raise Problem(404, "not-found", "Not found", f"the log holds no record {seq}")
    record("search", {"seq": seq}, 1)
    db.session.commit()
    return render_template(
        "portal/audit/exchange.html",
        detail=detail,
        outcome=_outcome(detail.record, unknown_outcome_cutoff(config_of(current_app))),
    )


def _page(given: dict, page, error: str | None, continued: bool = False):
    asked = {name: value for name, value in given.items() if value}
    if "limit" in request.args:
        asked["limit"] = request.args["limit"]
    return render_template(
        "portal/audit/exchanges.html",
        given=given,
        records=page.records if page else [],
        next_cursor=page.next_cursor if page else None,
        continued=continued,
        error=error,
        decisions=DECISIONS,
        formats=FORMATS,
        asked=asked,
        outcome=partial(_outcome, cutoff=unknown_outcome_cutoff(config_of(current_app))),
    )


def _outcome(record, cutoff: datetime) -> str:
    """``outcome_unknown`` for a record left pending past the longest a call may take."""
    if record.outcome.value == "pending" and record.started_at < cutoff:
        return "outcome_unknown"
    return record.outcome.value

"""The exchange log for auditors: the latest governed calls, filtered as the API filters
them, each search recorded in the auditors' trail like an API search."""

from __future__ import annotations

from flask import current_app, g, render_template, request

from gateway.audit.export import unknown_outcome_cutoff
from gateway.audit.queries import api_actor, record_query
from gateway.audit.search import DECISIONS, ExchangeFilter, FilterError, latest
from gateway.config import config_of
from gateway.db import db
from gateway.portal import access
from gateway.portal.blueprint import bp
from gateway.portal.navigation import nav_item

#: Records shown on the page; more are exported (or paged through the API).
SHOWN = 100
#: The filters the page offers, in the order of the form.
FILTERS = ("since", "until", "tool", "department", "decision", "rule", "purpose", "email")

nav_item("exchanges", "Exchange log", "audit:read", 70)


@bp.get("/exchanges")
@access.page("audit:read")
def exchanges():
    given = {name: request.args.get(name, "").strip() for name in FILTERS}
    try:
        where = ExchangeFilter.from_params(given, config_of(current_app).pepper)
    except FilterError as exc:
        return _page(given, [], str(exc)), 400
    records = latest(db.session, where, SHOWN)
    actor = g.actor
    record_query(
        db.session,
        api_actor(actor.kind, actor.id, actor.label),
        "search",
        where.described(),
        len(records),
    )
    db.session.commit()
    return _page(given, records, None)


def _page(given: dict, records: list, error: str | None):
    export_query = {name: value for name, value in given.items() if value}
    return render_template(
        "portal/exchanges/list.html",
        given=given,
        records=records,
        error=error,
        decisions=DECISIONS,
        shown=SHOWN,
        export_query=export_query,
        unknown_after=unknown_outcome_cutoff(config_of(current_app)),
    )

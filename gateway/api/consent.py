"""Recording and reading consent: for a consent management platform or a form backend.

``POST /api/v1/consent/events`` appends events (scope ``consent:write``);
``GET /api/v1/consent`` returns a person's current states (scope ``consent:read``).
Identifiers are hashed on arrival; only the keyed hash is stored.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from gateway.api import inputs
from gateway.api.auth import require_scope
from gateway.config import config_of
from gateway.db import db, utcnow
from policies.consent import ConsentState, record_consents
from policies.consent_import import IDENTIFIER_KINDS, parse_row
from policies.subjects import subject_key


@require_scope("consent:write")
def record_events():
    body = inputs.json_body()
    batch = isinstance(body, dict) and "events" in body
    inputs.check_body(body, "ConsentEvents" if batch else "ConsentEvent")
    items = body["events"] if batch else [body]
    pepper = _pepper()
    parsed, errors = [], []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_row({"occurred_at": utcnow().isoformat(), **item}, pepper))
        except ValueError as exc:  # parse_row's own messages, written for the client
            errors.append({"pointer": f"/events/{index}" if batch else "", "message": str(exc)})
    if errors:
        raise inputs.invalid_body("no event was recorded", errors[: inputs.MAX_ERRORS_LISTED])
    events = record_consents(db.session, parsed)
    db.session.commit()
    return jsonify(recorded=len(events), event_ids=[event.id for event in events]), 201


@require_scope("consent:read")
def read_states():
    given = [(kind, request.args[kind]) for kind in IDENTIFIER_KINDS if request.args.get(kind)]
    if len(given) != 1:
        raise inputs.invalid_query(f"give exactly one of {', '.join(IDENTIFIER_KINDS)}")
    key = subject_key(_pepper(), *given[0])
    if key is None:
        raise inputs.invalid_query(f"the {given[0][0]} cannot be read")
    states = db.session.scalars(
        select(ConsentState).where(ConsentState.subject_key == key).order_by(ConsentState.purpose)
    )
    return jsonify(
        subject_key=key,
        states=[
            {
                "purpose": state.purpose,
                "status": state.status.value,
                "occurred_at": state.occurred_at.isoformat(),
                "expires_at": state.expires_at.isoformat() if state.expires_at else None,
                "event_id": state.event_id,
            }
            for state in states
        ],
    )


def _pepper() -> bytes:
    return config_of(current_app).pepper


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/consent/events", "record_consent_events", record_events, methods=["POST"])
    bp.add_url_rule("/consent", "read_consent", read_states, methods=["GET"])

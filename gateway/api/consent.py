"""Recording and reading consent: for a consent management platform or a form backend.

``POST /api/v1/consent/events`` appends events (scope ``consent:write``);
``GET /api/v1/consent`` returns a person's current states (scope ``consent:read``).
Identifiers are hashed on arrival; only the keyed hash is stored.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from gateway.api import inputs
from gateway.api.auth import guard
from gateway.api.components import STORED_TIME, parameters
from gateway.api.operations import api_spec
from gateway.config import config_of
from gateway.db import db, utcnow
from policies.consent import ConsentState, record_consents
from policies.consent_import import IDENTIFIER_KINDS, parse_row
from policies.subjects import subject_key
from policies.taxonomy import known_data_uses

CONSENT_EVENT = api_spec.schema(
    "ConsentEvent",
    {
        "type": "object",
        "description": "an event naming exactly one of email, phone or external_id",
        "additionalProperties": False,
        "required": ["purpose", "status", "source"],
        "oneOf": [{"required": ["email"]}, {"required": ["phone"]}, {"required": ["external_id"]}],
        "properties": {
            "email": {"type": "string", "format": "email", "minLength": 3, "maxLength": 320},
            "phone": {
                "type": "string",
                "minLength": 1,
                "maxLength": 40,
                "description": "E.164, e.g. +442079460958",
            },
            "external_id": {"type": "string", "minLength": 1, "maxLength": 500},
            "purpose": {
                "type": "string",
                "maxLength": 100,
                "description": "a fideslang data use, e.g. marketing.communications.email "
                "(the enum lists them)",
                "enum": sorted(known_data_uses()),
            },
            "status": {"enum": ["granted", "withdrawn"]},
            "source": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "the CMP, form or system the consent came from",
            },
            "occurred_at": {**STORED_TIME, "description": "default now"},
            "expires_at": STORED_TIME,
            "lawful_basis": {
                "type": "string",
                "minLength": 1,
                "maxLength": 30,
                "default": "consent",
            },
            "evidence": {
                "description": "a reference (form id, TC string) or a flat object",
                "oneOf": [
                    {"type": "string", "maxLength": 4000},
                    {
                        "type": "object",
                        "maxProperties": 50,
                        "additionalProperties": {
                            "type": ["string", "number", "boolean", "null"],
                            "maxLength": 4000,
                        },
                    },
                ],
            },
        },
    },
)
CONSENT_EVENTS = api_spec.schema(
    "ConsentEvents",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {
            "events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": CONSENT_EVENT}
        },
    },
)
CONSENT_STATE = api_spec.schema(
    "ConsentState",
    {
        "type": "object",
        "properties": {
            "purpose": {"type": "string"},
            "status": {"enum": ["granted", "withdrawn"]},
            "occurred_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": ["string", "null"], "format": "date-time"},
            "event_id": {"type": "integer"},
        },
    },
)
RECORDED = {
    "type": "object",
    "required": ["recorded", "event_ids"],
    "properties": {
        "recorded": {"type": "integer"},
        "event_ids": {"type": "array", "items": {"type": "integer"}},
    },
}
STATES = {
    "type": "object",
    "required": ["subject_key", "states"],
    "properties": {
        "subject_key": {"type": "string"},
        "states": {"type": "array", "items": CONSENT_STATE},
    },
}


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
    api_spec.operation(
        bp,
        "POST",
        "/consent/events",
        guard,
        summary="Record consent events",
        description="All or nothing; a refused body lists each problem in `errors`.",
        permission="consent:write",
        body={"oneOf": [CONSENT_EVENT, CONSENT_EVENTS]},
        answers={201: ("Recorded", RECORDED)},
        tag="consent",
    )(record_events)
    api_spec.operation(
        bp,
        "GET",
        "/consent",
        guard,
        summary="A person's current consent states",
        permission="consent:read",
        query=parameters("email", "phone", "external_id"),
        answers={200: ("The states, one per purpose", STATES)},
        tag="consent",
    )(read_states)

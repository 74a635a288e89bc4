"""Fake Google Analytics 4 Measurement Protocol for web streams: collection and validation.

Follows https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference
and its "Validate events" page: ``POST /mp/collect?measurement_id=&api_secret=`` answers
204 whatever the payload and keeps only valid events; ``POST /debug/mp/collect`` answers
200 ``{"validationMessages": [{"fieldPath", "description", "validationCode"}]}`` and keeps
nothing. Checked: a client_id; 1 to 25 events; event names (a letter, then letters, digits
and underscores, at most 40, no reserved name or prefix); at most 25 parameters an event
and 25 user properties.

Credentials: Google checks neither api_secret nor measurement_id, on either endpoint; it
silently drops what belongs to no stream. The sandbox instead answers 403, in Google's
error shape ``{"error": {"code", "message", "status"}}``, to an unknown measurement_id or
an api_secret that is not the sandbox stream's: so a gateway presenting the wrong secret
is seen.

The events kept are listed at ``GET /ga4/_sandbox/events``, as in the Realtime report.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, request

VENDOR = "ga4"
CREDENTIALS = {"api_secret": "gatehouseSandboxApiSecret"}
#: The web data streams of the sandbox property.
MEASUREMENT_IDS = ("G-SANDBOX01",)
MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_USER_PROPERTIES = 25
EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
RESERVED_PREFIXES = ("firebase_", "ga_", "google_")
RESERVED_EVENT_NAMES = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_remove",
        "app_store_refund",
        "app_store_subscription_cancel",
        "app_store_subscription_convert",
        "app_store_subscription_renew",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
    }
)


class _Property:
    """The events the sandbox property collected, in arrival order."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def collect(self, measurement_id: str, payload: dict) -> None:
        collected = [
            {
                "measurement_id": measurement_id,
                "client_id": payload["client_id"],
                "user_id": payload.get("user_id"),
                **event,
            }
            for event in payload["events"]
        ]
        with self.lock:
            self.events.extend(collected)


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    api_secret = credentials["api_secret"]
    bp = Blueprint("ga4", __name__)
    collected = _Property()

    @bp.post("/mp/collect")
    def collect():
        problem = _stream_problem(api_secret)
        if problem:
            return problem
        payload = request.get_json(silent=True)
        if not _validation_messages(payload):
            collected.collect(request.args["measurement_id"], payload)
        return Response(status=204)

    @bp.post("/debug/mp/collect")
    def validate():
        problem = _stream_problem(api_secret)
        if problem:
            return problem
        return jsonify(validationMessages=_validation_messages(request.get_json(silent=True)))

    @bp.get("/_sandbox/events")
    def collected_events():
        with collected.lock:
            return jsonify(list(collected.events))

    return bp


def _validation_messages(payload: object) -> list[dict]:
    """What the validation server reports about a payload; empty when it is valid."""
    if not isinstance(payload, dict):
        return [_message("", "The payload must be a JSON object.", "VALUE_INVALID")]
    messages = []
    if not payload.get("client_id"):
        messages.append(_message("client_id", "A client_id is required.", "VALUE_REQUIRED"))
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        messages.append(_message("events", "At least one event is required.", "VALUE_REQUIRED"))
    elif len(events) > MAX_EVENTS:
        messages.append(_too_many("events", MAX_EVENTS))
    else:
        messages += [m for index, event in enumerate(events) for m in _event_messages(index, event)]
    if len(payload.get("user_properties") or {}) > MAX_USER_PROPERTIES:
        messages.append(_too_many("user_properties", MAX_USER_PROPERTIES))
    return messages


def _event_messages(index: int, event: object) -> list[dict]:
    name = event.get("name") if isinstance(event, dict) else None
    if not isinstance(name, str) or not name:
        return [_message("events", f"Event at index: [{index}] has no name.", "VALUE_REQUIRED")]
    if not EVENT_NAME.fullmatch(name):
        return [
            _message(
                "events",
                f"Event at index: [{index}] has invalid name [{name}]. Names must start with "
                "an alphabetic character and hold at most 40 letters, digits or underscores.",
                "NAME_INVALID",
            )
        ]
    if name in RESERVED_EVENT_NAMES or name.startswith(RESERVED_PREFIXES):
        return [
            _message(
                "events",
                f"Event at index: [{index}] has name [{name}] which is reserved.",
                "NAME_RESERVED",
            )
        ]
    if len(event.get("params") or {}) > MAX_PARAMS:
        return [_too_many(f"events[{index}].params", MAX_PARAMS)]
    return []


def _stream_problem(api_secret: str) -> Response | None:
    if request.args.get("measurement_id") not in MEASUREMENT_IDS:
        return _forbidden("The measurement_id names no web data stream of this property.")
    presented = request.args.get("api_secret", "")
    if not hmac.compare_digest(presented.encode(), api_secret.encode()):
        return _forbidden("The api_secret is not one of the data stream's secrets.")
    return None


def _message(field_path: str, description: str, code: str) -> dict:
    return {"fieldPath": field_path, "description": description, "validationCode": code}


def _too_many(field_path: str, limit: int) -> dict:
    return _message(field_path, f"At most {limit} are allowed.", "EXCEEDED_MAX_ENTITIES")


def _forbidden(message: str) -> Response:
    response = jsonify(error={"code": 403, "message": message, "status": "PERMISSION_DENIED"})
    response.status_code = 403
    return response

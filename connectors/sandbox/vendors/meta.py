"""Fake Meta Conversions API: ``POST /{api_version}/{pixel_id}/events``.

Follows https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api
and the parameter pages beside it: the access token in the access_token parameter (of the
query, or of the body, which Graph API reads too); ``data`` as a JSON array, in a JSON
body or as a form field holding JSON, as in Meta's curl examples; one invalid event fails
the whole request; success is ``{"events_received", "messages", "fbtrace_id"}``; errors
are ``{"error": {"message", "type", "code", "fbtrace_id"}}`` with status 400 (code 104 for
a missing token, 100 for an unknown pixel or an invalid parameter, with
``error_user_msg`` saying which). A token that is not the sandbox's gets code 190 with
status 401 here, where Graph API answers 400: the shared connector tests take 401 or 403
as the proof that a wrong credential was refused.

Checked for each event: event_name, event_time in Unix seconds, action_source among
Meta's values, user_data; website events also need event_source_url and
user_data.client_user_agent; contact information (em, ph, fn, ln, db, ge, ct, st, zp,
country) must be SHA-256 hex. Not checked: that event_time is at most seven days old (the
recorded samples would expire) and the combinations of customer information Meta needs
to match a person.

The events received are listed at ``GET /meta/_sandbox/events``, as in Meta's Test Events
tool.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, request

VENDOR = "meta"
CREDENTIALS = {"access_token": "EAAGatehouseSandboxConversionsToken"}
#: The pixels (datasets) the sandbox token may send events to.
PIXELS = ("1234567890",)
MAX_EVENTS = 1000
#: The largest Unix time in seconds with ten digits; thirteen digits are milliseconds.
MAX_EVENT_TIME = 9_999_999_999
REQUIRED = ("event_name", "event_time", "action_source", "user_data")
ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
HASHED = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country")
SHA256_HEX = re.compile(r"[a-f0-9]{64}")


class _Dataset:
    """The events received, per pixel, in arrival order."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def receive(self, pixel_id: str, params: dict) -> None:
        received = [
            {"pixel_id": pixel_id, "test_event_code": params.get("test_event_code"), **event}
            for event in params["data"]
        ]
        with self.lock:
            self.events.extend(received)


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    access_token = credentials["access_token"]
    bp = Blueprint("meta", __name__)
    dataset = _Dataset()

    @bp.post("/<api_version>/<pixel_id>/events")
    def send_events(api_version: str, pixel_id: str):
        params = _params()
        problem = _token_problem(params, access_token) or _pixel_problem(pixel_id)
        if problem:
            return problem
        invalid = _data_problem(params.get("data"))
        if invalid:
            return _error("Invalid parameter", "OAuthException", 100, error_user_msg=f"{invalid}.")
        dataset.receive(pixel_id, params)
        return jsonify(events_received=len(params["data"]), messages=[], fbtrace_id=_trace_id())

    @bp.get("/_sandbox/events")
    def received_events():
        with dataset.lock:
            return jsonify(list(dataset.events))

    return bp


def _params() -> dict:
    """The call's parameters: the query, then a JSON or form body (form values are JSON)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        body = {name: _json_or_text(value) for name, value in request.form.items()}
    return {**request.args.to_dict(), **body}


def _json_or_text(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _token_problem(params: dict, access_token: str) -> Response | None:
    presented = params.get("access_token")
    if not isinstance(presented, str) or not presented:
        return _error(
            "An access token is required to request this resource.", "OAuthException", 104
        )
    if not hmac.compare_digest(presented.encode(), access_token.encode()):
        return _error(
            "Invalid OAuth access token - Cannot parse access token",
            "OAuthException",
            190,
            status=401,
        )
    return None


def _pixel_problem(pixel_id: str) -> Response | None:
    if pixel_id in PIXELS:
        return None
    return _error(
        f"Unsupported post request. Object with ID '{pixel_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        "GraphMethodException",
        100,
    )


def _data_problem(data: object) -> str | None:
    if not isinstance(data, list) or not data:
        return "The parameter data is required and must be a non-empty array"
    if len(data) > MAX_EVENTS:
        return f"data holds more than {MAX_EVENTS} events"
    for index, event in enumerate(data):
        problem = _event_problem(index, event)
        if problem:
            return problem
    return None


def _event_problem(index: int, event: object) -> str | None:
    where = f"data[{index}]"
    if not isinstance(event, dict):
        return f"{where} must be an object"
    missing = [name for name in REQUIRED if name not in event]
    if missing:
        return f"The parameter {where}[{missing[0]}] is required"
    time = event["event_time"]
    if isinstance(time, bool) or not isinstance(time, int) or not 0 <= time <= MAX_EVENT_TIME:
        return f"{where}[event_time] must be a Unix timestamp in seconds"
    if event["action_source"] not in ACTION_SOURCES:
        return f"{where}[action_source] must be one of {sorted(ACTION_SOURCES)}"
    if not isinstance(event["user_data"], dict):
        return f"{where}[user_data] must be an object"
    return _website_problem(where, event) or _hashing_problem(where, event["user_data"])


def _website_problem(where: str, event: dict) -> str | None:
    if event["action_source"] != "website":
        return None
    if not event.get("event_source_url"):
        return f"Website events need {where}[event_source_url]"
    if not event["user_data"].get("client_user_agent"):
        return f"Website events need {where}[user_data][client_user_agent]"
    return None


def _hashing_problem(where: str, user_data: dict) -> str | None:
    for field in HASHED:
        value = user_data.get(field, [])
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) and SHA256_HEX.fullmatch(v) for v in values):
            return f"{where}[user_data][{field}] must be normalised and SHA-256 hashed"
    return None


def _trace_id() -> str:
    return secrets.token_urlsafe(8)


def _error(message: str, error_type: str, code: int, status: int = 400, **extra) -> Response:
    response = jsonify(
        error={
            "message": message,
            "type": error_type,
            "code": code,
            **extra,
            "fbtrace_id": _trace_id(),
        }
    )
    response.status_code = status
    return response

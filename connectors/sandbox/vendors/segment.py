"""Fake Segment HTTP Tracking API: identify, track, page, screen, group, alias and batch.

Follows https://www.twilio.com/docs/segment/connections/sources/catalog/libraries/server/http-api:
the write key is the user name of HTTP basic authentication, or ``writeKey`` in the body;
every call is answered ``200 {"success": true}`` except a body that is not JSON (with
``Content-Type: application/json``) or is too large (32 KB a call, 500 KB a batch, 32 KB
an event in it), which gets 400. Calls Segment does not accept (no userId or anonymousId,
a track without event, a group without groupId, an alias without previousId and userId,
batch events past the 2,500th) are answered 200 all the same and dropped, as by Segment.

Credentials: without a write key the answer is 400, as from Segment. A write key that is
not the sandbox source's gets 401 here, where Segment's stateless edge answers 200 and
drops the events: so a gateway presenting the wrong key is seen. Error bodies are
``{"code", "message"}``, what the official SDKs read.

The calls the source accepted are listed at ``GET /segment/_sandbox/events``, as in
Segment's source debugger.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

VENDOR = "segment"
CREDENTIALS = {"write_key": "gatehouseSandboxSegmentWriteKey0"}
CALLS = ("identify", "track", "page", "screen", "group", "alias")
MAX_CALL_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
#: What each call needs besides a userId or an anonymousId.
REQUIRED_FIELD = {"track": "event", "group": "groupId"}


class _Source:
    """The calls the sandbox source accepted, in arrival order."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def accept(self, calls: list) -> None:
        received_at = datetime.now(UTC).isoformat()
        accepted = [
            {**call, "receivedAt": received_at}
            for call in calls[:MAX_BATCH_EVENTS]
            if _acceptable(call)
        ]
        with self.lock:
            self.events.extend(accepted)


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    write_key = credentials["write_key"]
    bp = Blueprint("segment", __name__)
    source = _Source()

    @bp.post("/v1/<kind>")
    def receive(kind: str):
        if kind not in (*CALLS, "batch"):
            return _error(404, "not_found", f"There is no /v1/{kind} endpoint.")
        limit = MAX_BATCH_BYTES if kind == "batch" else MAX_CALL_BYTES
        if (request.content_length or 0) > limit:
            return _error(400, "payload_too_large", f"The body exceeds {limit // 1024} KB.")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "invalid_json", "The body is not a JSON object.")
        problem = _write_key_problem(body, write_key)
        if problem:
            return problem
        calls = _batch_calls(body) if kind == "batch" else [_single_call(body, kind)]
        if any(len(json.dumps(call)) > MAX_CALL_BYTES for call in calls):
            return _error(400, "payload_too_large", "An event of the batch exceeds 32 KB.")
        source.accept(calls)
        return jsonify(success=True)

    @bp.get("/_sandbox/events")
    def accepted_events():
        with source.lock:
            return jsonify(list(source.events))

    return bp


def _write_key_problem(body: dict, write_key: str) -> Response | None:
    auth = request.authorization
    presented = (auth.username if auth and auth.type == "basic" else None) or body.get("writeKey")
    if not isinstance(presented, str) or not presented:
        return _error(400, "missing_write_key", "Send the write key as the basic user name.")
    if not hmac.compare_digest(presented.encode(), write_key.encode()):
        return _error(401, "invalid_write_key", "The write key belongs to no source.")
    return None


def _batch_calls(body: dict) -> list:
    calls = body.get("batch")
    return calls if isinstance(calls, list) else []


def _single_call(body: dict, kind: str) -> dict:
    """The call a single-call endpoint received, typed by the endpoint, without the key."""
    return {**{name: value for name, value in body.items() if name != "writeKey"}, "type": kind}


def _acceptable(call: object) -> bool:
    if not isinstance(call, dict) or call.get("type") not in CALLS:
        return False
    if call["type"] == "alias":
        return bool(call.get("previousId") and call.get("userId"))
    required = REQUIRED_FIELD.get(call["type"])
    has_identity = bool(call.get("userId") or call.get("anonymousId"))
    return has_identity and (required is None or bool(call.get(required)))


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify(code=code, message=message)
    response.status_code = status
    return response

"""Fake Mailchimp Marketing API v3: list members, the part that carries personal data.

Shapes follow https://mailchimp.com/developer/marketing/api/list-members/: HTTP basic
authentication with the API key as password, the subscriber hash is the MD5 of the
lower-cased address, errors are problem documents with Mailchimp's titles.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import uuid

from flask import Blueprint, Response, jsonify, request

ERROR_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
#: The lists every sandbox account has.
LISTS = ("a1b2c3d4e5",)


def create_blueprint(api_key: str) -> Blueprint:
    bp = Blueprint("mailchimp", __name__)
    members: dict[tuple[str, str], dict] = {}
    lock = threading.Lock()

    @bp.before_request
    def authenticate():
        if not _basic_password_matches(api_key):
            return _error(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        return None

    @bp.get("/3.0/ping")
    def ping():
        return jsonify(health_status="Everything's Chimpy!")

    @bp.post("/3.0/lists/<list_id>/members")
    def add_member(list_id: str):
        body, problem = _member_body(list_id, require_status=True)
        if problem:
            return problem
        key = (list_id, subscriber_hash(body["email_address"]))
        with lock:
            if key in members:
                return _error(
                    400,
                    "Member Exists",
                    f"{body['email_address']} is already a list member. Use PUT to insert or "
                    "update list members.",
                )
            members[key] = _member(list_id, body)
            return jsonify(members[key])

    @bp.get("/3.0/lists/<list_id>/members/<member_hash>")
    def get_member(list_id: str, member_hash: str):
        with lock:
            member = members.get((list_id, member_hash.lower()))
        if member is None:
            return _not_found()
        return jsonify(member)

    @bp.put("/3.0/lists/<list_id>/members/<member_hash>")
    def upsert_member(list_id: str, member_hash: str):
        body, problem = _member_body(list_id, require_status=False)
        if problem:
            return problem
        if "status_if_new" not in body and "status" not in body:
            return _invalid("status_if_new", "Required fields were not provided: status_if_new")
        body.setdefault("status", body.get("status_if_new"))
        with lock:
            key = (list_id, member_hash.lower())
            members[key] = {**members.get(key, {}), **_member(list_id, body)}
            return jsonify(members[key])

    @bp.delete("/3.0/lists/<list_id>/members/<member_hash>")
    def archive_member(list_id: str, member_hash: str):
        with lock:
            if members.pop((list_id, member_hash.lower()), None) is None:
                return _not_found()
        return Response(status=204)

    return bp


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def _basic_password_matches(api_key: str) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        _, _, password = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(password, api_key)


def _member_body(list_id: str, require_status: bool):
    if list_id not in LISTS:
        return None, _not_found()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, _error(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
        )
    if not isinstance(body.get("email_address"), str) or "@" not in body["email_address"]:
        return None, _invalid("email_address", "Please provide a valid email address.")
    status = body.get("status")
    if (require_status or status is not None) and status not in STATUSES:
        return None, _invalid(
            "status", f"Invalid status {status!r}; use one of {sorted(STATUSES)}."
        )
    return body, None


def _member(list_id: str, body: dict) -> dict:
    email = body["email_address"]
    return {
        "id": subscriber_hash(email),
        "email_address": email,
        "unique_email_id": uuid.uuid5(uuid.NAMESPACE_URL, email).hex[:10],
        "status": body["status"],
        "merge_fields": body.get("merge_fields", {}),
        "list_id": list_id,
    }


def _invalid(field: str, message: str) -> Response:
    return _error(
        400,
        "Invalid Resource",
        "The resource submitted could not be validated.",
        errors=[{"field": field, "message": message}],
    )


def _not_found() -> Response:
    return _error(404, "Resource Not Found", "The requested resource could not be found.")


def _error(status: int, title: str, detail: str, **extra) -> Response:
    response = jsonify(
        type=ERROR_DOC,
        title=title,
        status=status,
        detail=detail,
        instance=str(uuid.uuid4()),
        **extra,
    )
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response

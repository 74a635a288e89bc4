"""Fake Mailchimp Marketing API v3: audience members, the part that carries contacts.

Shapes follow https://mailchimp.com/developer/marketing/api/list-members/: HTTP basic
authentication with the API key as password; the subscriber hash is the MD5 of the
lower-cased address and must match the address sent with it; errors are problem
documents with Mailchimp's titles.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import uuid
from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, request

VENDOR = "mailchimp"
CREDENTIALS = {"api_key": "0123456789abcdef0123456789abcdef-us21"}
ERROR_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
#: The audiences every sandbox account has.
LISTS = ("a1b2c3d4e5",)


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


class _Audiences:
    """Members per (list, subscriber hash), shared by the blueprint's views."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], dict] = {}
        self.lock = threading.Lock()

    def put(self, list_id: str, body: dict, existing: dict | None = None) -> dict:
        member = {**(existing or {}), **_member(list_id, body)}
        self.members[(list_id, member["id"])] = member
        return member


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    api_key = credentials["api_key"]
    bp = Blueprint("mailchimp", __name__)
    audiences = _Audiences()

    @bp.before_request
    def authenticate():
        if not _basic_password_matches(api_key):
            return _error(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        list_id = (request.view_args or {}).get("list_id")
        if list_id is not None and list_id not in LISTS:
            return _not_found()
        return None

    @bp.get("/3.0/ping")
    def ping():
        return jsonify(health_status="Everything's Chimpy!")

    @bp.get("/3.0/lists/<list_id>/members")
    def list_members(list_id: str):
        status = request.args.get("status")
        count = int(request.args.get("count", "10"))
        with audiences.lock:
            found = [
                member
                for (owner, _), member in audiences.members.items()
                if owner == list_id and status in (None, member["status"])
            ]
        return jsonify(members=found[:count], list_id=list_id, total_items=len(found))

    @bp.post("/3.0/lists/<list_id>/members")
    def add_member(list_id: str):
        body, problem = _member_body(required=("email_address", "status"))
        if problem:
            return problem
        with audiences.lock:
            if (list_id, subscriber_hash(body["email_address"])) in audiences.members:
                return _error(
                    400,
                    "Member Exists",
                    f"{body['email_address']} is already a list member. Use PUT to insert or "
                    "update list members.",
                )
            return jsonify(audiences.put(list_id, body))

    @bp.get("/3.0/lists/<list_id>/members/<member_hash>")
    def get_member(list_id: str, member_hash: str):
        with audiences.lock:
            member = audiences.members.get((list_id, member_hash.lower()))
        return jsonify(member) if member else _not_found()

    @bp.put("/3.0/lists/<list_id>/members/<member_hash>")
    def upsert_member(list_id: str, member_hash: str):
        body, problem = _member_body(required=("email_address", "status_if_new"))
        if problem:
            return problem
        if subscriber_hash(body["email_address"]) != member_hash.lower():
            return _invalid(
                "email_address", "The email address does not match the subscriber hash."
            )
        with audiences.lock:
            existing = audiences.members.get((list_id, member_hash.lower()))
            if existing is None:
                body = {**body, "status": body.get("status", body["status_if_new"])}
            return jsonify(audiences.put(list_id, body, existing))

    @bp.patch("/3.0/lists/<list_id>/members/<member_hash>")
    def update_member(list_id: str, member_hash: str):
        body, problem = _member_body(required=())
        if problem:
            return problem
        with audiences.lock:
            existing = audiences.members.get((list_id, member_hash.lower()))
            if existing is None:
                return _not_found()
            merged = {
                **existing,
                **body,
                "merge_fields": {**existing["merge_fields"], **body.get("merge_fields", {})},
            }
            return jsonify(audiences.put(list_id, merged, existing))

    @bp.post("/3.0/lists/<list_id>/members/<member_hash>/events")
    def add_event(list_id: str, member_hash: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return _invalid("name", "Required fields were not provided: name")
        with audiences.lock:
            if (list_id, member_hash.lower()) not in audiences.members:
                return _not_found()
        return Response(status=204)

    @bp.post("/3.0/lists/<list_id>")
    def batch_subscribe(list_id: str):
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            return _invalid("members", "Required fields were not provided: members")
        created, updated, errors = [], [], []
        with audiences.lock:
            for entry in body["members"]:
                email = entry.get("email_address") if isinstance(entry, dict) else None
                if not isinstance(email, str) or "@" not in email:
                    errors.append({"email_address": email, "error": "Invalid email address"})
                    continue
                existing = audiences.members.get((list_id, subscriber_hash(email)))
                if existing and not body.get("update_existing"):
                    errors.append({"email_address": email, "error": "Member Exists"})
                    continue
                member = audiences.put(list_id, {"status": "subscribed", **entry}, existing)
                (updated if existing else created).append(member)
        return jsonify(
            new_members=created,
            updated_members=updated,
            errors=errors,
            total_created=len(created),
            total_updated=len(updated),
            error_count=len(errors),
        )

    @bp.delete("/3.0/lists/<list_id>/members/<member_hash>")
    def archive_member(list_id: str, member_hash: str):
        with audiences.lock:
            member = audiences.members.get((list_id, member_hash.lower()))
            if member is None:
                return _not_found()
            member["status"] = "archived"
        return Response(status=204)

    @bp.post("/3.0/lists/<list_id>/members/<member_hash>/actions/delete-permanent")
    def delete_permanently(list_id: str, member_hash: str):
        with audiences.lock:
            if audiences.members.pop((list_id, member_hash.lower()), None) is None:
                return _not_found()
        return Response(status=204)

    return bp


def _basic_password_matches(api_key: str) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        _, _, password = base64.b64decode(encoded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(password, api_key)


def _member_body(required: tuple[str, ...]):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, _error(
            400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
        )
    missing = [name for name in required if name not in body]
    if missing:
        return None, _invalid(missing[0], f"Required fields were not provided: {missing[0]}")
    if "email_address" in body and (
        not isinstance(body["email_address"], str) or "@" not in body["email_address"]
    ):
        return None, _invalid("email_address", "Please provide a valid email address.")
    for name in ("status", "status_if_new"):
        if name in body and body[name] not in STATUSES:
            return None, _invalid(name, f"Invalid {name}; use one of {sorted(STATUSES)}.")
    return body, None


def _member(list_id: str, body: dict) -> dict:
    email = body["email_address"]
    return {
        "id": subscriber_hash(email),
        "email_address": email,
        "unique_email_id": uuid.uuid5(uuid.NAMESPACE_URL, email).hex[:10],
        "status": body.get("status", "subscribed"),
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

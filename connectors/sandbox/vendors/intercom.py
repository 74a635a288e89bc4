"""Fake Intercom REST API (2.x): contacts, data events, messages, subscriptions, deletion.

Shapes follow https://developers.intercom.com/docs/references/rest-api/api.intercom.io/ and
the Intercom OpenAPI descriptions (github.com/intercom/Intercom-OpenAPI): the access token
as bearer; errors as ``{"type": "error.list", "request_id", "errors": [{"code",
"message"}]}``; a contact is found by Intercom's ``id``, or by ``user_id`` (the
``external_id``) or email when submitting events; an email address or external ID belongs
to one contact (409 conflict); events answer ``202`` with an empty body. The workspace
starts with one admin, one opt-out subscription type and one user.
"""

from __future__ import annotations

import hmac
import itertools
import threading
import time
import uuid
from collections.abc import Mapping

from flask import Blueprint, Response, jsonify, request

VENDOR = "intercom"
CREDENTIALS = {"access_token": "dG9rOmdhdGVob3VzZV9zYW5kYm94XzAwMDE6MTowLWZha2U="}
WORKSPACE_ID = "gh2sbx7q"
ADMIN_IDS = ("394051",)
SUBSCRIPTION_TYPES = {"37846": ("Newsletter", "News about our product, once a month")}
#: Contacts the workspace has before any call, e.g. for a deletion request.
SEED_CONTACTS = (
    {
        "id": "64f0c0ffee000000000000aa",
        "role": "user",
        "external_id": "crm-0042",
        "email": "grace@example.com",
        "name": "Grace Hopper",
    },
)
#: New contacts get this prefix and a sequence number: 24 hex digits, like Intercom's IDs.
ID_PREFIX = "64f0c0ffee000000"
CONTACT_FIELDS = (
    "role",
    "external_id",
    "email",
    "phone",
    "name",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "owner_id",
    "unsubscribed_from_emails",
    "custom_attributes",
)


def contact_id(sequence: int) -> str:
    """The ID of the ``sequence``-th contact created (from 1)."""
    return f"{ID_PREFIX}{sequence:08x}"


class _Refusal(Exception):
    """A call Intercom would answer with an error list."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Workspace:
    """Contacts of the sandbox workspace, shared by the views."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict] = {}
        self.sequence = itertools.count(1)
        self.deletion_requests = itertools.count(1)
        self.lock = threading.Lock()
        for seed in SEED_CONTACTS:
            self.contacts[seed["id"]] = _contact(seed["id"], seed)

    def get(self, intercom_id: str) -> dict:
        contact = self.contacts.get(intercom_id)
        if contact is None:
            raise _Refusal(404, "not_found", "User Not Found")
        return contact

    def find(self, event: Mapping) -> dict:
        """The contact an event names by ``id``, ``user_id`` or ``email``."""
        if event.get("id"):
            return self.get(event["id"])
        field = "external_id" if event.get("user_id") else "email"
        value = event["user_id"] if field == "external_id" else str(event["email"]).lower()
        for contact in self.contacts.values():
            if contact.get(field) == value:
                return contact
        raise _Refusal(404, "not_found", "User Not Found")

    def create(self, fields: Mapping) -> dict:
        self.check_unique(fields, None)
        new_id = contact_id(next(self.sequence))
        self.contacts[new_id] = _contact(new_id, fields)
        return self.contacts[new_id]

    def update(self, contact: dict, fields: Mapping) -> dict:
        self.check_unique(fields, contact["id"])
        contact.update(_fields(fields), updated_at=int(time.time()))
        return contact

    def subscribe(self, contact: dict, subscription: str) -> None:
        """Attach a subscription type; for an opt-out type that opts the contact out."""
        attached = contact["subscription_types"]["data"]
        if all(entry["id"] != subscription for entry in attached):
            attached.append(
                {
                    "type": "subscription",
                    "id": subscription,
                    "url": f"/subscriptions/{subscription}",
                }
            )
        contact["subscription_types"]["total_count"] = len(attached)

    def check_unique(self, fields: Mapping, own_id: str | None) -> None:
        for name in ("email", "external_id"):
            value = _fields(fields).get(name)
            clash = next(
                (c for c in self.contacts.values() if value and c.get(name) == value), None
            )
            if clash and clash["id"] != own_id:
                raise _Refusal(
                    409,
                    "conflict",
                    f"A contact matching those details already exists with id={clash['id']}",
                )


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    access_token = credentials["access_token"]
    bp = Blueprint("intercom", __name__)
    workspace = _Workspace()

    @bp.before_request
    def authenticate():
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), access_token.encode()
        ):
            return _error(401, "unauthorized", "Access Token Invalid")
        return None

    @bp.errorhandler(_Refusal)
    def refused(refusal: _Refusal):
        return _error(refusal.status, refusal.code, refusal.message)

    @bp.post("/contacts")
    def create_contact():
        body = _object()
        if not any(body.get(name) for name in ("email", "external_id", "role")):
            raise _Refusal(400, "parameter_invalid", "Expected one of email, external_id or role")
        _check_role(body)
        with workspace.lock:
            return jsonify(workspace.create(body))

    @bp.get("/contacts/<contact>")
    def get_contact(contact: str):
        with workspace.lock:
            return jsonify(workspace.get(contact))

    @bp.put("/contacts/<contact>")
    def update_contact(contact: str):
        body = _object()
        _check_role(body)
        with workspace.lock:
            return jsonify(workspace.update(workspace.get(contact), body))

    @bp.delete("/contacts/<contact>")
    def delete_contact(contact: str):
        with workspace.lock:
            deleted = workspace.contacts.pop(workspace.get(contact)["id"])
        return jsonify(
            id=deleted["id"], external_id=deleted["external_id"], type="contact", deleted=True
        )

    @bp.post("/events")
    def submit_event():
        body = _object(required=("event_name", "created_at"))
        if not any(body.get(name) for name in ("id", "user_id", "email")):
            raise _Refusal(400, "parameter_invalid", "One of id, user_id or email is required")
        with workspace.lock:
            workspace.find(body)
        return Response(status=202)

    @bp.post("/messages")
    def create_message():
        body = _object(required=("message_type", "body", "from", "to"))
        _check_message(body)
        with workspace.lock:
            workspace.get(str(body["to"].get("id")))
        return jsonify(
            type="admin_message",
            id=str(uuid.uuid4().int % 10**9),
            created_at=body.get("created_at", int(time.time())),
            subject=body.get("subject"),
            body=body["body"],
            message_type=body["message_type"],
        )

    @bp.post("/contacts/<contact>/subscriptions")
    def add_subscription(contact: str):
        body = _object(required=("id", "consent_type"))
        if body["id"] not in SUBSCRIPTION_TYPES:
            raise _Refusal(404, "not_found", "Subscription Type Not Found")
        with workspace.lock:
            workspace.subscribe(workspace.get(contact), body["id"])
        return jsonify(_subscription(body["id"], body["consent_type"]))

    @bp.post("/user_delete_requests")
    def request_user_deletion():
        body = _object(required=("intercom_user_id",))
        with workspace.lock:
            workspace.contacts.pop(workspace.get(body["intercom_user_id"])["id"])
            return jsonify(id=next(workspace.deletion_requests))

    return bp


def _object(required: tuple[str, ...] = ()) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _Refusal(400, "parameter_invalid", "The request body must be a JSON object")
    missing = [name for name in required if name not in body]
    if missing:
        raise _Refusal(400, "parameter_not_found", f"{missing[0]} is required")
    return body


def _check_role(body: Mapping) -> None:
    if body.get("role", "user") not in ("user", "lead"):
        raise _Refusal(400, "parameter_invalid", "role must be user or lead")


def _check_message(body: Mapping) -> None:
    sender, recipient = body["from"], body["to"]
    if not isinstance(sender, dict) or str(sender.get("id")) not in ADMIN_IDS:
        raise _Refusal(400, "parameter_invalid", "from must name an admin of the workspace")
    if not isinstance(recipient, dict) or recipient.get("type") not in ("user", "lead"):
        raise _Refusal(400, "parameter_invalid", "to must be a user or lead")
    if body["message_type"] == "email" and not (body.get("subject") and body.get("template")):
        raise _Refusal(400, "parameter_not_found", "An email needs a subject and a template")


def _fields(body: Mapping) -> dict:
    fields = {name: body[name] for name in CONTACT_FIELDS if name in body}
    if fields.get("email"):
        fields["email"] = fields["email"].lower()
    return fields


def _contact(new_id: str, body: Mapping) -> dict:
    """A contact as Intercom returns it."""
    now = int(time.time())
    contact = {
        "type": "contact",
        "id": new_id,
        "workspace_id": WORKSPACE_ID,
        **dict.fromkeys(CONTACT_FIELDS),
        "role": "user",
        "unsubscribed_from_emails": False,
        "custom_attributes": {},
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "created_at": now,
        "updated_at": now,
        "tags": _list(f"/contacts/{new_id}/tags"),
        "subscription_types": _list(f"/contacts/{new_id}/subscriptions"),
    }
    return {**contact, **_fields(body)}


def _list(url: str) -> dict:
    return {"type": "list", "data": [], "url": url, "total_count": 0, "has_more": False}


def _subscription(subscription: str, consent_type: str) -> dict:
    name, description = SUBSCRIPTION_TYPES[subscription]
    translation = {"name": name, "description": description, "locale": "en"}
    return {
        "type": "subscription",
        "id": subscription,
        "state": "live",
        "consent_type": consent_type,
        "default_translation": translation,
        "translations": [translation],
        "content_types": ["email"],
    }


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify(
        type="error.list",
        request_id=uuid.uuid4().hex[:20],
        errors=[{"code": code, "message": message}],
    )
    response.status_code = status
    return response

"""Fake HubSpot API: CRM v3 contacts (single and batch), GDPR delete, events, opt-outs, email.

Shapes follow https://developers.hubspot.com/docs/api-reference (CRM contacts v3, custom
events send v3, communication preferences v3, transactional single send v3) and the models
of hubspot-api-client: a private app access token as bearer; errors as ``{"status":
"error", "message", "correlationId", "category"}``; contact IDs are numeric strings given in
order; property values are strings; an email address belongs to one contact (409
CONFLICT); archived contacts stay readable with ``archived=true``; a GDPR delete by an email
address no contact has puts the address on a blocklist, so it cannot be used again.
"""

from __future__ import annotations

import hmac
import itertools
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

VENDOR = "hubspot"
CREDENTIALS = {"access_token": "pat-na1-6f1d2c3b-9a8e-4d7c-b6a5-0123456789ab"}
FIRST_CONTACT_ID = 1001
#: Properties every read returns, and those a read that names none returns besides.
ALWAYS_READ = ("createdate", "hs_object_id", "lastmodifieddate")
DEFAULT_PROPERTIES = ("email", "firstname", "lastname", *ALWAYS_READ)
SUBSCRIPTION_TYPES = {"7850": ("Marketing Information", "Marketing offers and updates.")}
TRANSACTIONAL_EMAIL_IDS = (4126643121,)
NOT_FOUND_IN_BATCH = (
    "Could not get some CONTACT objects, they may be deleted or not exist. "
    "Check that ids are valid."
)


class _Refusal(Exception):
    """A call HubSpot would answer with an error document."""

    def __init__(self, status: int, category: str, message: str) -> None:
        super().__init__(message)
        self.status, self.category, self.message = status, category, message


class _Portal:
    """Contacts, blocklist and opt-outs of the sandbox portal, shared by the views."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict] = {}
        self.blocked_emails: set[str] = set()
        self.opted_out: set[tuple[str, str]] = set()
        self.ids = itertools.count(FIRST_CONTACT_ID)
        self.lock = threading.Lock()

    def find(self, key: str, id_property: str | None, archived: bool = False) -> dict | None:
        """The contact whose ID, or whose ``id_property`` (such as email), is ``key``."""
        if id_property == "email":
            key = key.lower()
        if id_property in (None, "hs_object_id"):
            found = self.contacts.get(key)
        else:
            found = next(
                (c for c in self.contacts.values() if c["properties"].get(id_property) == key),
                None,
            )
        return found if found and (archived or not found["archived"]) else None

    def create(self, properties: Mapping[str, str]) -> dict:
        now, contact_id = _now(), str(next(self.ids))
        contact = {"id": contact_id, "createdAt": now, "archived": False, "properties": {}}
        system = {"hs_object_id": contact_id, "createdate": now}
        return self.update(contact, {**properties, **system})

    def update(self, contact: dict, properties: Mapping[str, str]) -> dict:
        email = properties.get("email")
        if email and email.lower() != contact["properties"].get("email"):
            self.check_email(email)
        now = _now()
        merged = {**contact["properties"], **properties, "lastmodifieddate": now}
        if merged.get("email"):
            merged["email"] = merged["email"].lower()
        contact.update(properties=merged, updatedAt=now)
        self.contacts[contact["id"]] = contact
        return contact

    def check_email(self, email: str) -> None:
        """Refuse an address that is malformed, taken by another contact or blocked."""
        if "@" not in email.strip("@"):
            raise _Refusal(400, "VALIDATION_ERROR", _invalid_email(email))
        owner = self.find(email, "email")
        if owner:
            raise _Refusal(409, "CONFLICT", f"Contact already exists. Existing ID: {owner['id']}")
        if email.lower() in self.blocked_emails:
            raise _Refusal(400, "VALIDATION_ERROR", f"{email} was permanently deleted (GDPR)")

    def archive(self, contact: dict) -> None:
        contact.update(archived=True, archivedAt=_now())


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    access_token = credentials["access_token"]
    bp = Blueprint("hubspot", __name__)
    portal = _Portal()

    @bp.before_request
    def authenticate():
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), access_token.encode()
        ):
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        return None

    @bp.errorhandler(_Refusal)
    def refused(refusal: _Refusal):
        return _error(refusal.status, refusal.category, refusal.message)

    @bp.post("/crm/v3/objects/contacts")
    def create_contact():
        body = _body("SimplePublicObjectInputForCreate", required=("properties",))
        with portal.lock:
            contact = portal.create(body["properties"])
        return _json(201, _public(contact))

    @bp.get("/crm/v3/objects/contacts/<contact_id>")
    def get_contact(contact_id: str):
        archived = request.args.get("archived", "").lower() == "true"
        with portal.lock:
            contact = portal.find(contact_id, request.args.get("idProperty"), archived)
        if contact is None:
            return _not_found()
        named = [
            name
            for value in request.args.getlist("properties")
            for name in value.split(",")
            if name
        ]
        return jsonify(_public(contact, named or DEFAULT_PROPERTIES))

    @bp.patch("/crm/v3/objects/contacts/<contact_id>")
    def update_contact(contact_id: str):
        body = _body("SimplePublicObjectInput", required=("properties",))
        with portal.lock:
            contact = portal.find(contact_id, request.args.get("idProperty"))
            if contact is None:
                return _not_found()
            return jsonify(_public(portal.update(contact, body["properties"])))

    @bp.delete("/crm/v3/objects/contacts/<contact_id>")
    def archive_contact(contact_id: str):
        with portal.lock:
            contact = portal.find(contact_id, None)
            if contact:
                portal.archive(contact)
        return Response(status=204)

    @bp.post("/crm/v3/objects/contacts/gdpr-delete")
    def gdpr_delete():
        body = _body("PublicGdprDeleteInput", required=("objectId",))
        by_email = body.get("idProperty") == "email"
        key = body["objectId"].lower() if by_email else body["objectId"]
        with portal.lock:
            contact = portal.find(key, body.get("idProperty"), archived=True)
            if contact:
                del portal.contacts[contact["id"]]
            elif by_email:
                portal.blocked_emails.add(key)
            else:
                return _not_found()
        return Response(status=204)

    @bp.post("/crm/v3/objects/contacts/batch/create")
    def batch_create():
        inputs = _inputs("BatchInputSimplePublicObjectBatchInputForCreate", ("properties",))
        with portal.lock:
            _check_unique_emails(portal, (entry["properties"] for entry in inputs))
            created = [portal.create(entry["properties"]) for entry in inputs]
        return _json(201, _batch(created))

    @bp.post("/crm/v3/objects/contacts/batch/update")
    def batch_update():
        inputs = _inputs("BatchInputSimplePublicObjectBatchInput", ("id", "properties"))
        with portal.lock:
            found = [(portal.find(e["id"], e.get("idProperty")), e) for e in inputs]
            updated = [portal.update(contact, e["properties"]) for contact, e in found if contact]
        return _batch_with_missing(updated, [e["id"] for contact, e in found if not contact])

    @bp.post("/crm/v3/objects/contacts/batch/upsert")
    def batch_upsert():
        inputs = _inputs("BatchInputSimplePublicObjectBatchInputUpsert", ("id", "properties"))
        with portal.lock:
            results = [_upsert(portal, entry) for entry in inputs]
        upserted = [contact for contact in results if contact]
        missing = [
            entry["id"] for entry, contact in zip(inputs, results, strict=True) if not contact
        ]
        return _batch_with_missing(upserted, missing)

    @bp.post("/crm/v3/objects/contacts/batch/archive")
    def batch_archive():
        inputs = _inputs("BatchInputSimplePublicObjectId", ("id",))
        with portal.lock:
            for contact in filter(None, (portal.find(entry["id"], None) for entry in inputs)):
                portal.archive(contact)
        return Response(status=204)

    @bp.post("/events/v3/send")
    def send_event():
        body = _body("BehavioralEventHttpCompletionRequest", required=("eventName",))
        if not any(body.get(name) for name in ("email", "utk", "objectId")):
            raise _Refusal(400, "VALIDATION_ERROR", "One of email, utk or objectId is required")
        return Response(status=204)

    @bp.post("/communication-preferences/v3/unsubscribe")
    def unsubscribe():
        body = _body("PublicUpdateSubscriptionStatusRequest", ("emailAddress", "subscriptionId"))
        email, subscription = body["emailAddress"].lower(), body["subscriptionId"]
        if subscription not in SUBSCRIPTION_TYPES:
            raise _Refusal(400, "VALIDATION_ERROR", f"{subscription} is not a subscription ID")
        with portal.lock:
            if (email, subscription) in portal.opted_out:
                raise _Refusal(
                    400,
                    "VALIDATION_ERROR",
                    f"{email} is already unsubscribed from subscription {subscription}",
                )
            portal.opted_out.add((email, subscription))
        return jsonify(_subscription_status(subscription, body))

    @bp.post("/marketing/v3/transactional/single-email/send")
    def send_transactional_email():
        body = _body("PublicSingleSendRequestEgg", required=("emailId", "message"))
        if body["emailId"] not in TRANSACTIONAL_EMAIL_IDS:
            raise _Refusal(400, "VALIDATION_ERROR", f"No email with id {body['emailId']}")
        if not isinstance(body["message"], dict) or "@" not in str(body["message"].get("to")):
            raise _Refusal(400, "VALIDATION_ERROR", "message.to must be an email address")
        now = _now()
        return jsonify(statusId=str(uuid.uuid4()), status="PENDING", requestedAt=now, startedAt=now)

    return bp


def _upsert(portal: _Portal, entry: Mapping) -> dict | None:
    """The upserted contact, ``None`` when an ID (not a property) names no contact."""
    id_property = entry.get("idProperty")
    key = entry["id"].lower() if id_property == "email" else entry["id"]
    contact = portal.find(key, id_property)
    if contact:
        upserted = portal.update(contact, entry["properties"])
        return {**upserted, "new": False}
    if id_property in (None, "hs_object_id"):
        return None
    return {**portal.create({**entry["properties"], id_property: key}), "new": True}


def _check_unique_emails(portal: _Portal, batch: Iterable[Mapping[str, str]]) -> None:
    """A batch create fails as a whole when any address is taken or given twice."""
    emails = [properties["email"] for properties in batch if properties.get("email")]
    for email in emails:
        portal.check_email(email)
    if len({email.lower() for email in emails}) < len(emails):
        raise _Refusal(409, "CONFLICT", "Duplicate email addresses in the batch")


def _body(model: str, required: tuple[str, ...]) -> dict:
    return _checked(request.get_json(silent=True), model, required)


def _inputs(model: str, required: tuple[str, ...]) -> list[dict]:
    inputs = _body(model, required=("inputs",))["inputs"]
    if not isinstance(inputs, list):
        raise _Refusal(400, "VALIDATION_ERROR", "inputs must be a list")
    return [_checked(entry, model, required) for entry in inputs]


def _checked(document, model: str, required: tuple[str, ...]) -> dict:
    """The object with its required attributes, refused in HubSpot's words otherwise."""
    missing = [name for name in required if not isinstance(document, dict) or name not in document]
    if missing:
        raise _Refusal(
            400,
            "VALIDATION_ERROR",
            f"Invalid input JSON on line 1, column 1: Cannot build {model}, some of required "
            f"attributes are not set [{', '.join(missing)}]",
        )
    properties = document.get("properties", {})
    if not isinstance(properties, dict) or not all(isinstance(v, str) for v in properties.values()):
        raise _Refusal(400, "VALIDATION_ERROR", "properties must be an object of strings")
    return document


def _public(contact: Mapping, names: Iterable[str] | None = None) -> dict:
    """A contact as HubSpot returns it, with all its properties or the ones named."""
    wanted = None if names is None else {*names, *ALWAYS_READ}
    shown = {
        "id": contact["id"],
        "properties": {
            name: value
            for name, value in contact["properties"].items()
            if wanted is None or name in wanted
        },
        "createdAt": contact["createdAt"],
        "updatedAt": contact["updatedAt"],
        "archived": contact["archived"],
    }
    if contact["archived"]:
        shown["archivedAt"] = contact["archivedAt"]
    if "new" in contact:
        shown["new"] = contact["new"]
    return shown


def _batch(contacts: list[dict]) -> dict:
    now = _now()
    results = [_public(contact) for contact in contacts]
    return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}


def _batch_with_missing(contacts: list[dict], missing: list[str]) -> Response:
    """200 with the results, or 207 naming the IDs that matched no contact."""
    if not missing:
        return jsonify(_batch(contacts))
    error = {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": NOT_FOUND_IN_BATCH,
        "context": {"ids": missing},
    }
    return _json(207, {**_batch(contacts), "numErrors": 1, "errors": [error]})


def _subscription_status(subscription: str, body: Mapping) -> dict:
    name, description = SUBSCRIPTION_TYPES[subscription]
    status = {
        "id": subscription,
        "name": name,
        "description": description,
        "status": "NOT_SUBSCRIBED",
        "sourceOfStatus": "SUBSCRIPTION_STATUS",
    }
    for optional in ("legalBasis", "legalBasisExplanation"):
        if optional in body:
            status[optional] = body[optional]
    return status


def _invalid_email(email: str) -> str:
    detail = {
        "isValid": False,
        "message": f"Email address {email} is invalid",
        "error": "INVALID_EMAIL",
        "name": "email",
    }
    return f"Property values were not valid: {json.dumps([detail])}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _not_found() -> Response:
    return _error(404, "OBJECT_NOT_FOUND", "resource not found")


def _error(status: int, category: str, message: str) -> Response:
    document = {"status": "error", "message": message, "correlationId": str(uuid.uuid4())}
    return _json(status, {**document, "category": category})


def _json(status: int, document: Mapping) -> Response:
    response = jsonify(document)
    response.status_code = status
    return response

"""Fake Brevo API v3: contacts, contact events and transactional email.

Follows Brevo's API reference (developers.brevo.com/reference): the key in the
``api-key`` header; errors as ``{"code", "message"}`` with Brevo's codes (unauthorized,
missing_parameter, invalid_parameter, duplicate_parameter, document_not_found). A contact
is found by email, ID, SMS number or ext_id, as ``identifierType`` says or as the
identifier looks; its ext_id is kept as the ``EXT_ID`` attribute. Imports take a
``jsonBody`` and are done at once, though answered ``202`` with a process ID. Contact IDs
are numbered in creation order, so sample calls can name them.
"""

from __future__ import annotations

import hmac
import itertools
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

VENDOR = "brevo"
CREDENTIALS = {
    "api_key": "xkeysib-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
    "-Sandbox0Gatehouse"
}
#: The contact lists every sandbox account starts with.
LISTS = (2, 7)
#: The account's verified senders; transactional email may come only from these.
SENDERS = ("hello@gatehouse.example",)
#: The contact attribute each kind of identifier is read from.
IDENTIFIER_ATTRIBUTES = {
    "phone_id": "SMS",
    "whatsapp_id": "WHATSAPP",
    "landline_number_id": "LANDLINE_NUMBER",
    "ext_id": "EXT_ID",
}
IDENTIFIER_TYPES = ("email_id", "contact_id", *IDENTIFIER_ATTRIBUTES)
#: What batch updates name a contact by, and the identifier type each one is.
BATCH_IDENTIFIERS = {"email": "email_id", "id": "contact_id", "sms": "phone_id", "ext_id": "ext_id"}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class _Refused(Exception):
    """A request Brevo refuses, with its status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return _json({"code": self.code, "message": self.message}, self.status)


class _Account:
    """The account's contacts and lists, shared by the views."""

    def __init__(self) -> None:
        self.contacts: dict[int, dict] = {}
        self.lists = set(LISTS)
        self.counters = {name: itertools.count(1) for name in ("contact", "process", "message")}
        self.lock = threading.Lock()

    def find(self, identifier: str, identifier_type: str | None) -> int | None:
        kinds = (identifier_type,) if identifier_type else _likely_kinds(identifier)
        for contact_id, contact in self.contacts.items():
            if any(_same(_identifier(contact_id, contact, kind), identifier) for kind in kinds):
                return contact_id
        return None

    def find_like(self, email: str | None, attributes: Mapping) -> int | None:
        """The contact already holding this email, SMS number or ext_id."""
        given = {
            "email_id": email,
            "phone_id": attributes.get("SMS"),
            "ext_id": attributes.get("EXT_ID"),
        }
        for kind, value in given.items():
            found = value and self.find(str(value), kind)
            if found:
                return found
        return None

    def create(self, email: str | None, changes: Mapping) -> int:
        contact_id = next(self.counters["contact"])
        now = _now()
        self.contacts[contact_id] = {
            "email": email,
            "emailBlacklisted": False,
            "smsBlacklisted": False,
            "createdAt": now,
            "listIds": [],
            "attributes": {},
        }
        self.change(contact_id, changes)
        return contact_id

    def change(self, contact_id: int, changes: Mapping) -> None:
        contact = self.contacts[contact_id]
        attributes = _attributes(changes)
        contact["attributes"].update(attributes)
        contact["email"] = attributes.get("EMAIL", contact["email"])
        for flag in ("emailBlacklisted", "smsBlacklisted"):
            contact[flag] = changes.get(flag, contact[flag])
        unlinked = set(changes.get("unlinkListIds", []))
        kept = [list_id for list_id in contact["listIds"] if list_id not in unlinked]
        contact["listIds"] = sorted(set(kept) | set(changes.get("listIds", [])))
        contact["modifiedAt"] = _now()


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    bp = Blueprint("brevo", __name__)
    account = _Account()

    @bp.errorhandler(_Refused)
    def refuse(refused: _Refused):
        return refused.response()

    @bp.before_request
    def authenticate():
        given = request.headers.get("api-key", "")
        if not hmac.compare_digest(given.encode(), credentials["api_key"].encode()):
            raise _Refused(401, "unauthorized", "Key not found")

    @bp.post("/v3/contacts")
    def create_contact():
        body = _body()
        email, attributes = body.get("email"), _attributes(body)
        if not (email or attributes.get("SMS") or attributes.get("EXT_ID")):
            raise _Refused(
                400, "missing_parameter", "email, ext_id or the SMS attribute is required"
            )
        _check_email(email, "email")
        with account.lock:
            _check_lists(account, body.get("listIds", []))
            existing = account.find_like(email, attributes)
            if existing and not body.get("updateEnabled"):
                raise _Refused(
                    400,
                    "duplicate_parameter",
                    "Unable to create contact, email is already associated with another Contact",
                )
            if existing:
                account.change(existing, body)
                return Response(status=204)
            return _json({"id": account.create(email, body)}, 201)

    @bp.get("/v3/contacts/<identifier>")
    def get_contact(identifier: str):
        with account.lock:
            contact_id = _known(account, identifier)
            return jsonify(_shown(contact_id, account.contacts[contact_id]))

    @bp.put("/v3/contacts/<identifier>")
    def update_contact(identifier: str):
        body = _body()
        _check_email(_attributes(body).get("EMAIL"), "attributes.EMAIL")
        with account.lock:
            _check_lists(account, body.get("listIds", []))
            account.change(_known(account, identifier), body)
        return Response(status=204)

    @bp.delete("/v3/contacts/<identifier>")
    def delete_contact(identifier: str):
        with account.lock:
            del account.contacts[_known(account, identifier)]
        return Response(status=204)

    @bp.post("/v3/contacts/batch")
    def update_contacts():
        entries = _body().get("contacts")
        if not isinstance(entries, list) or not entries:
            raise _Refused(400, "missing_parameter", "contacts is required")
        with account.lock:
            found = [
                account.find(*_batch_identifier(entry, index))
                for index, entry in enumerate(entries)
            ]
            missing = [str(index) for index, contact_id in enumerate(found) if contact_id is None]
            if missing:
                raise _Refused(
                    404, "document_not_found", f"No contact found for indexes {','.join(missing)}"
                )
            for contact_id, entry in zip(found, entries, strict=True):
                account.change(contact_id, entry)
        return Response(status=204)

    @bp.post("/v3/contacts/import")
    def import_contacts():
        body = _body()
        entries = body.get("jsonBody")
        if not isinstance(entries, list) or not entries:
            raise _Refused(400, "missing_parameter", "fileUrl, fileBody or jsonBody is required")
        for index, entry in enumerate(entries):
            _check_email(_dict(entry).get("email"), f"jsonBody[{index}].email")
        with account.lock:
            list_ids = _import_lists(account, body)
            for entry in entries:
                _import(account, _dict(entry), list_ids, body)
            return _json({"processId": next(account.counters["process"])}, 202)

    @bp.post("/v3/events")
    def create_event():
        body = _body()
        if not _EVENT_NAME.fullmatch(str(body.get("event_name", ""))):
            raise _Refused(400, "invalid_parameter", "event_name is invalid")
        identifiers = {
            kind: str(value)
            for kind, value in _dict(body.get("identifiers")).items()
            if kind in IDENTIFIER_TYPES and value
        }
        if not identifiers:
            raise _Refused(400, "missing_parameter", "identifiers: at least one is required")
        with account.lock:
            contact_id = next(
                (
                    found
                    for kind, value in identifiers.items()
                    if (found := account.find(value, kind))
                ),
                None,
            )
            if contact_id and isinstance(body.get("contact_properties"), dict):
                account.change(contact_id, {"attributes": body["contact_properties"]})
        return Response(status=204)

    @bp.post("/v3/smtp/email")
    def send_transactional_email():
        body = _body()
        _check_message(body)
        versions = body.get("messageVersions")
        with account.lock:
            if isinstance(versions, list):
                return _json({"messageIds": [_message_id(account) for _ in versions]}, 201)
            return _json({"messageId": _message_id(account)}, 201)

    return bp


def _check_message(body: dict) -> None:
    """Refuse a message as Brevo does: sender, recipients, subject and content."""
    versions = body.get("messageVersions")
    recipients = body.get("to") or [
        recipient for version in _list(versions) for recipient in _list(_dict(version).get("to"))
    ]
    if not recipients:
        raise _Refused(400, "missing_parameter", "to or messageVersions is required")
    for field in ("to", "cc", "bcc"):
        for recipient in _list(body.get(field)):
            _check_email(_dict(recipient).get("email"), field)
    if body.get("templateId") is not None:
        return
    sender = _dict(body.get("sender"))
    if not (sender.get("email") or sender.get("id")):
        raise _Refused(400, "missing_parameter", "sender is missing")
    if sender.get("email") and sender["email"] not in SENDERS:
        raise _Refused(400, "invalid_parameter", "Sender is not a verified sender of this account")
    if not body.get("subject"):
        raise _Refused(400, "missing_parameter", "subject is missing")
    if not (body.get("htmlContent") or body.get("textContent")):
        raise _Refused(400, "missing_parameter", "htmlContent or textContent is missing")


def _import_lists(account: _Account, body: dict) -> list[int]:
    """The lists an import fills: those named, or a new one."""
    if isinstance(body.get("newList"), dict) and body["newList"].get("listName"):
        new_list = max(account.lists) + 1
        account.lists.add(new_list)
        return [new_list]
    if not body.get("listIds"):
        raise _Refused(400, "missing_parameter", "listIds or newList is required")
    _check_lists(account, body["listIds"])
    return body["listIds"]


def _import(account: _Account, entry: dict, list_ids: list[int], options: dict) -> None:
    changes = {
        "attributes": _dict(entry.get("attributes")),
        "listIds": list_ids,
        **({"emailBlacklisted": True} if options.get("emailBlacklist") else {}),
        **({"smsBlacklisted": True} if options.get("smsBlacklist") else {}),
    }
    existing = account.find_like(entry.get("email"), changes["attributes"])
    if existing is None:
        account.create(entry.get("email"), changes)
    elif options.get("updateExistingContacts", True):
        account.change(existing, changes)


def _batch_identifier(entry: object, index: int) -> tuple[str, str]:
    named = {field: value for field, value in _dict(entry).items() if field in BATCH_IDENTIFIERS}
    if len(named) != 1:
        raise _Refused(
            400,
            "invalid_parameter",
            f"contacts[{index}]: give exactly one of email, id, sms, ext_id",
        )
    ((field, value),) = named.items()
    return str(value), BATCH_IDENTIFIERS[field]


def _known(account: _Account, identifier: str) -> int:
    identifier_type = request.args.get("identifierType")
    if identifier_type and identifier_type not in IDENTIFIER_TYPES:
        raise _Refused(400, "invalid_parameter", "identifierType is invalid")
    contact_id = account.find(identifier, identifier_type)
    if contact_id is None:
        raise _Refused(404, "document_not_found", "Contact does not exist")
    return contact_id


def _likely_kinds(identifier: str) -> tuple[str, ...]:
    if identifier.isdigit():
        return ("contact_id",)
    if "@" in identifier:
        return ("email_id",)
    return ("phone_id", "ext_id")


def _identifier(contact_id: int, contact: dict, kind: str) -> str | None:
    if kind == "contact_id":
        return str(contact_id)
    if kind == "email_id":
        return contact["email"]
    value = contact["attributes"].get(IDENTIFIER_ATTRIBUTES[kind])
    return None if value is None else str(value)


def _same(held: str | None, given: str) -> bool:
    return held is not None and held.lower() == given.lower()


def _attributes(changes: Mapping) -> dict:
    """The attributes a create or update sets; ``ext_id`` is the ``EXT_ID`` attribute."""
    attributes = dict(_dict(changes.get("attributes")))
    if changes.get("ext_id"):
        attributes["EXT_ID"] = changes["ext_id"]
    return attributes


def _check_email(email: object, where: str) -> None:
    if email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email)):
        raise _Refused(400, "invalid_parameter", f"{where}: invalid email address")


def _check_lists(account: _Account, list_ids: list) -> None:
    unknown = [list_id for list_id in list_ids if list_id not in account.lists]
    if unknown:
        raise _Refused(404, "document_not_found", f"List ID does not exist: {unknown[0]}")


def _shown(contact_id: int, contact: dict) -> dict:
    return {"id": contact_id, **contact, "statistics": {}}


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _Refused(400, "bad_request", "The body must be a JSON object")
    return body


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _message_id(account: _Account) -> str:
    number = next(account.counters["message"])
    return f"<{datetime.now(UTC):%Y%m%d%H%M%S}.{number}@smtp-relay.mailin.fr>"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(document: object, status: int) -> Response:
    response = jsonify(document)
    response.status_code = status
    return response

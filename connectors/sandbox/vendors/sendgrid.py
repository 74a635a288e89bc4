"""Fake Twilio SendGrid v3 API: marketing contacts, Mail Send, suppressions and erasure.

Shapes follow https://www.twilio.com/docs/sendgrid/api-reference and SendGrid's OpenAPI
descriptions (github.com/twilio/sendgrid-oai): the API key as a bearer token; errors as
``{"errors": [{"field", "message"}]}``; contact upserts, deletions and erasures are
asynchronous jobs answered ``202 {"job_id"}`` (applied here at once, so a read after a
write sees it); Mail Send answers ``202`` with an empty body and an ``X-Message-Id``;
suppressions for an unknown unsubscribe group go to the global suppressions.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

VENDOR = "sendgrid"
CREDENTIALS = {"api_key": "SG.gatehouse-sandbox.c2FuZGJveCBrZXksIHB1YmxpYyBhbmQgZmFrZQ"}
IDENTIFIERS = ("email", "phone_number_id", "external_id", "anonymous_id")
#: Unsubscribe groups the sandbox account has; SendGrid adds suppressions for any other
#: group to the global suppressions.
SUPPRESSION_GROUPS = ("12345",)
MAIL_ERRORS = {
    "personalizations": "The personalizations field is required and must have at least one "
    "personalization.",
    "to": "The to array is required for all personalization objects, and must have at least one "
    "email object with a valid email address.",
    "from.email": "The from object must be provided for every email send. It is an object that "
    "requires the email parameter, but may also contain a name parameter.",
    "content": "Unless a valid template_id is provided, the content parameter is required. There "
    "must be at least one defined content block.",
}


def contact_id(identifier: str) -> str:
    """The ID the sandbox gives a new contact, derived from its first identifier."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sendgrid-contact:{identifier.lower()}"))


class _Account:
    """Contacts and unsubscribes of the sandbox account, shared by the views."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict] = {}
        self.global_suppressions: set[str] = set()
        self.group_suppressions: dict[str, set[str]] = {g: set() for g in SUPPRESSION_GROUPS}
        self.lock = threading.Lock()

    def find(self, contact: Mapping) -> dict | None:
        """The stored contact sharing any identifier with ``contact``."""
        wanted = _identifiers(contact)
        return next((c for c in self.contacts.values() if _identifiers(c) & wanted), None)

    def upsert(self, fields: Mapping, list_ids: list[str]) -> None:
        now = _now()
        existing = self.find(fields)
        if existing is None:
            first = next(fields[name] for name in IDENTIFIERS if fields.get(name))
            existing = {"id": contact_id(first), "created_at": now, "list_ids": []}
        contact = {**existing, **fields, "updated_at": now}
        if contact.get("email"):
            contact["email"] = contact["email"].lower()
        contact["list_ids"] = sorted({*existing["list_ids"], *list_ids})
        self.contacts[contact["id"]] = contact

    def by_email(self, email: str) -> dict | None:
        email = email.lower()
        return next(
            (
                contact
                for contact in self.contacts.values()
                if email == contact.get("email")
                or email in (alternate.lower() for alternate in contact.get("alternate_emails", []))
            ),
            None,
        )

    def erase(self, emails: set[str]) -> None:
        """Remove the contacts with these addresses; their unsubscribes stay in force."""
        for contact in [c for c in self.contacts.values() if c.get("email") in emails]:
            del self.contacts[contact["id"]]


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    api_key = credentials["api_key"]
    bp = Blueprint("sendgrid", __name__)
    account = _Account()

    @bp.before_request
    def authenticate():
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return _error(401, "authorization required")
        if not hmac.compare_digest(presented.strip().encode(), api_key.encode()):
            return _error(401, "The provided authorization grant is invalid, expired, or revoked")
        return None

    @bp.put("/v3/marketing/contacts")
    def upsert_contacts():
        body = request.get_json(silent=True)
        problem = _contacts_problem(body)
        if problem:
            return problem
        with account.lock:
            for fields in body["contacts"]:
                account.upsert(fields, body.get("list_ids", []))
        return _job()

    @bp.post("/v3/marketing/contacts/search/emails")
    def contacts_by_emails():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("emails"), list):
            return _error(400, "emails is required", "emails")
        with account.lock:
            found = {email: account.by_email(email) for email in body["emails"] if email}
        if not any(found.values()):
            return _error(404, "No contacts found", "emails")
        return jsonify(
            result={
                email.lower(): {"contact": _details(c)} if c else {"error": "contact not found"}
                for email, c in found.items()
            }
        )

    @bp.delete("/v3/marketing/contacts")
    def delete_contacts():
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        delete_all = request.args.get("delete_all_contacts") == "true"
        if bool(ids) == delete_all:
            return _error(400, "must set either ids or delete_all_contacts", "ids")
        with account.lock:
            for doomed in list(account.contacts) if delete_all else ids:
                account.contacts.pop(doomed, None)
        return _job()

    @bp.post("/v3/mail/send")
    def send_mail():
        body = request.get_json(silent=True)
        problem = _mail_problem(body)
        if problem:
            return problem
        return Response(status=202, headers={"X-Message-Id": uuid.uuid4().hex[:22]})

    @bp.post("/v3/asm/suppressions/global")
    def suppress_globally():
        emails, problem = _recipient_emails()
        if problem:
            return problem
        with account.lock:
            account.global_suppressions.update(emails)
        return _json(201, recipient_emails=emails)

    @bp.get("/v3/asm/suppressions/global/<email>")
    def global_suppression(email: str):
        with account.lock:
            suppressed = email.lower() in account.global_suppressions
        return jsonify(recipient_email=email) if suppressed else jsonify({})

    @bp.post("/v3/asm/groups/<group_id>/suppressions")
    def suppress_in_group(group_id: str):
        emails, problem = _recipient_emails()
        if problem:
            return problem
        with account.lock:
            account.group_suppressions.get(group_id, account.global_suppressions).update(emails)
        return _json(201, recipient_emails=emails)

    @bp.post("/v3/recipients/erasejob")
    def erase_recipients():
        body = request.get_json(silent=True)
        emails = body.get("email_addresses") if isinstance(body, dict) else None
        if not isinstance(emails, list) or not emails:
            return _error(400, "email_addresses is required", "email_addresses")
        invalid = next((e for e in emails if not _looks_like_email(e)), None)
        if invalid is not None:
            return _error(400, f"Email_address {invalid} is not valid", "email_addresses")
        with account.lock:
            account.erase({email.lower() for email in emails})
        return _job()

    return bp


def _contacts_problem(body) -> Response | None:
    if not isinstance(body, dict) or not isinstance(body.get("contacts"), list):
        return _error(400, "contacts is required", "contacts")
    if not body["contacts"]:
        return _error(400, "contacts must have at least one contact", "contacts")
    for index, contact in enumerate(body["contacts"]):
        if not isinstance(contact, dict) or not any(contact.get(n) for n in IDENTIFIERS):
            return _error(
                400,
                "at least one identifier (email, phone_number_id, external_id, anonymous_id) "
                "is required",
                f"contacts[{index}]",
            )
        if "email" in contact and not _looks_like_email(contact["email"]):
            return _error(400, "email address is invalid", f"contacts[{index}].email")
    return None


def _mail_problem(body) -> Response | None:
    if not isinstance(body, dict):
        return _error(400, "Bad Request", None)
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return _mail_error("personalizations")
    for index, personalization in enumerate(personalizations):
        recipients = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(recipients, list) or not recipients:
            return _mail_error("to", f"personalizations.{index}.to")
        if not all(_is_address(to) for to in recipients):
            return _mail_error("to", f"personalizations.{index}.to")
    if not _is_address(body.get("from")):
        return _mail_error("from.email")
    if not body.get("content") and not body.get("template_id"):
        return _mail_error("content")
    return None


def _mail_error(kind: str, field: str | None = None) -> Response:
    return _error(400, MAIL_ERRORS[kind], field or kind)


def _recipient_emails() -> tuple[list[str], Response | None]:
    body = request.get_json(silent=True)
    emails = body.get("recipient_emails") if isinstance(body, dict) else None
    if not isinstance(emails, list) or not emails:
        return [], _error(400, "recipient_emails is required", "recipient_emails")
    if not all(_looks_like_email(email) for email in emails):
        return [], _error(400, "recipient_emails must be valid email addresses", "recipient_emails")
    return [email.lower() for email in emails], None


def _details(contact: Mapping) -> dict:
    """A contact as SendGrid returns it: every reserved field, empty when unset."""
    text_fields = (
        "email",
        "phone_number_id",
        "external_id",
        "anonymous_id",
        "first_name",
        "last_name",
        "unique_name",
        "address_line_1",
        "address_line_2",
        "city",
        "state_province_region",
        "country",
        "postal_code",
        "phone_number",
        "whatsapp",
        "line",
        "facebook",
    )
    return {
        "id": contact["id"],
        **{name: contact.get(name, "") for name in text_fields},
        "alternate_emails": contact.get("alternate_emails", []),
        "list_ids": contact["list_ids"],
        "segment_ids": [],
        "custom_fields": contact.get("custom_fields", {}),
        "created_at": contact["created_at"],
        "updated_at": contact["updated_at"],
        "_metadata": {"self": f"https://api.sendgrid.com/v3/marketing/contacts/{contact['id']}"},
    }


def _identifiers(contact: Mapping) -> set[tuple[str, str]]:
    """A contact's identifiers as (name, value) pairs, the email address in lower case."""
    return {
        (name, contact[name].lower() if name == "email" else contact[name])
        for name in IDENTIFIERS
        if contact.get(name)
    }


def _looks_like_email(value) -> bool:
    return isinstance(value, str) and "@" in value.strip("@")


def _is_address(value) -> bool:
    """An email object: ``{"email": ..., "name": ...}``."""
    return isinstance(value, dict) and _looks_like_email(value.get("email"))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _job() -> Response:
    return _json(202, job_id=str(uuid.uuid4()))


def _error(status: int, message: str, field: str | None = None) -> Response:
    return _json(status, errors=[{"field": field, "message": message}])


def _json(status: int, **fields) -> Response:
    response = jsonify(fields)
    response.status_code = status
    return response

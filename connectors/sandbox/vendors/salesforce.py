"""Fake Salesforce REST API: the OAuth 2.0 client credentials flow, Contacts and Leads.

Follows the REST API Developer Guide (sObject Basic Information, sObject Rows, sObject
Rows by External ID, sObject Collections) and Salesforce Help's "OAuth 2.0 Client
Credentials Flow for Server-to-Server Integration". The token endpoint takes the consumer
key and secret in the form or by HTTP basic, and answers Salesforce's token response,
which says nothing of expiry; the data endpoints take only a token it issued. The sandbox
org has the standard fields below and one custom field, ``External_Id__c``, marked
External ID on both objects. Record IDs carry the object's key prefix (003 Contact, 00Q
Lead) and are numbered in creation order, so sample calls can name them. Errors are
Salesforce's lists of ``{"message", "errorCode"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

VENDOR = "salesforce"
CREDENTIALS = {
    "client_id": "3MVG9GatehouseSandboxConsumerKey.0000000000000000000000000000000000000",
    "client_secret": "8C1E5A3B7D9F20446E1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F70",
}
STANDARD_FIELDS = {
    "Contact": frozenset(
        [
            "Salutation",
            "FirstName",
            "LastName",
            "Email",
            "Phone",
            "MobilePhone",
            "HomePhone",
            "OtherPhone",
            "Fax",
            "Title",
            "Department",
            "Birthdate",
            "MailingStreet",
            "MailingCity",
            "MailingState",
            "MailingPostalCode",
            "MailingCountry",
            "Description",
            "LeadSource",
            "HasOptedOutOfEmail",
            "HasOptedOutOfFax",
            "DoNotCall",
            "AccountId",
            "OwnerId",
            "ReportsToId",
        ]
    ),
    "Lead": frozenset(
        [
            "Salutation",
            "FirstName",
            "LastName",
            "Company",
            "Title",
            "Email",
            "Phone",
            "MobilePhone",
            "Fax",
            "Website",
            "Street",
            "City",
            "State",
            "PostalCode",
            "Country",
            "Description",
            "LeadSource",
            "Status",
            "Industry",
            "Rating",
            "AnnualRevenue",
            "NumberOfEmployees",
            "HasOptedOutOfEmail",
            "HasOptedOutOfFax",
            "DoNotCall",
            "OwnerId",
        ]
    ),
}
#: Checkbox fields: false, never null, until set.
CHECKBOX_FIELDS = frozenset({"HasOptedOutOfEmail", "HasOptedOutOfFax", "DoNotCall"})
REQUIRED_FIELDS = {"Contact": ("LastName",), "Lead": ("LastName", "Company")}
KEY_PREFIXES = {"Contact": "003", "Lead": "00Q"}
EXTERNAL_ID_FIELD = "External_Id__c"

_VERSION = re.compile(r"^v[0-9]{2}\.0$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def record_id(key_prefix: str, number: int) -> str:
    """An 18-character ID: the last 3 letters encode which of the first 15 are capitals
    (none here, hence AAA)."""
    return f"{key_prefix}5g{number:010d}AAA"


ORG_ID = record_id("00D", 1)
INTEGRATION_USER_ID = record_id("005", 1)


@dataclass(frozen=True)
class _Failure:
    """Why Salesforce refuses a record; shown as a list entry or a collection result."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_error(self) -> dict:
        error = {"message": self.message, "errorCode": self.code}
        return {**error, "fields": list(self.fields)} if self.fields else error

    def as_result(self) -> dict:
        error = {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}
        return {"id": None, "success": False, "errors": [error]}


ROLLED_BACK = _Failure(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
)
#: A record's fate, decided before anything is saved: refused, or a save to run.
Plan = _Failure | Callable[[], dict]


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class _Record:
    sobject: str
    fields: dict
    created: str = field(default_factory=_timestamp)


class _Org:
    """The org's records and the access tokens it issued, shared by the views."""

    def __init__(self) -> None:
        self.records: dict[str, _Record] = {}
        self.tokens: set[str] = set()
        self.inserted = 0
        self.lock = threading.Lock()

    def insert(self, sobject: str, fields: dict) -> str:
        self.inserted += 1
        new_id = record_id(KEY_PREFIXES[sobject], self.inserted)
        self.records[new_id] = _Record(sobject, {**fields, "LastModifiedDate": _timestamp()})
        return new_id

    def update(self, existing_id: str, fields: dict) -> None:
        self.records[existing_id].fields.update(fields, LastModifiedDate=_timestamp())

    def find(self, sobject: str, wanted_id: str) -> _Record | None:
        record = self.records.get(wanted_id)
        return record if record and record.sobject == sobject else None

    def matching(self, sobject: str, value: str) -> list[str]:
        return [
            found_id
            for found_id, record in self.records.items()
            if record.sobject == sobject and record.fields.get(EXTERNAL_ID_FIELD) == value
        ]


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    bp = Blueprint("salesforce", __name__)
    org = _Org()

    @bp.before_request
    def authenticate():
        if request.endpoint == f"{bp.name}.issue_token":
            return None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        with org.lock:
            issued = token in org.tokens
        if scheme.lower() != "bearer" or not issued:
            return _errors(401, _Failure("INVALID_SESSION_ID", "Session expired or invalid"))
        args = request.view_args or {}
        if not _VERSION.fullmatch(args.get("version", "")):
            return _not_found()
        if args.get("sobject", "Contact") not in KEY_PREFIXES:
            return _not_found()
        return None

    @bp.post("/services/oauth2/token")
    def issue_token():
        if request.form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        client_id, secret = _client_credentials()
        if not _same(client_id, credentials["client_id"]):
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if not _same(secret, credentials["client_secret"]):
            return _oauth_error("invalid_client", "invalid client credentials")
        token = f"{ORG_ID}!{secrets.token_urlsafe(48)}"
        with org.lock:
            org.tokens.add(token)
        return jsonify(_token_response(token, secret))

    @bp.post("/services/data/<version>/sobjects/<sobject>")
    def create(version: str, sobject: str):
        fields = _record_body()
        failure = fields if isinstance(fields, _Failure) else _check(sobject, fields, True)
        if failure:
            return _errors(400, failure)
        with org.lock:
            new_id = org.insert(sobject, fields)
        return _json({"id": new_id, "success": True, "errors": []}, 201)

    @bp.get("/services/data/<version>/sobjects/<sobject>/<wanted_id>")
    def read(version: str, sobject: str, wanted_id: str):
        with org.lock:
            record = org.find(sobject, wanted_id)
            if record is None:
                return _not_found()
            shown = _shown(record, wanted_id, version, request.args.get("fields"))
        return _errors(400, shown) if isinstance(shown, _Failure) else jsonify(shown)

    @bp.patch("/services/data/<version>/sobjects/<sobject>/<wanted_id>")
    def update(version: str, sobject: str, wanted_id: str):
        fields = _record_body()
        failure = fields if isinstance(fields, _Failure) else _check(sobject, fields, False)
        if failure:
            return _errors(400, failure)
        with org.lock:
            if org.find(sobject, wanted_id) is None:
                return _not_found()
            org.update(wanted_id, fields)
        return Response(status=204)

    @bp.delete("/services/data/<version>/sobjects/<sobject>/<wanted_id>")
    def delete(version: str, sobject: str, wanted_id: str):
        with org.lock:
            if org.find(sobject, wanted_id) is None:
                return _not_found()
            del org.records[wanted_id]
        return Response(status=204)

    @bp.patch("/services/data/<version>/sobjects/<sobject>/<id_field>/<value>")
    def upsert(version: str, sobject: str, id_field: str, value: str):
        if id_field != EXTERNAL_ID_FIELD:
            return _unknown_external_id_field(id_field)
        fields = _record_body()
        if isinstance(fields, _Failure):
            return _errors(400, fields)
        with org.lock:
            matches = org.matching(sobject, value)
            if len(matches) > 1:
                return _json([_record_url(version, sobject, found) for found in matches], 300)
            outcome = _plan_upsert(org, sobject, {**fields, id_field: value}, matches)
            if isinstance(outcome, _Failure):
                return _errors(400, outcome)
            result = outcome()
        return _json(result, 201 if result["created"] else 200)

    @bp.post("/services/data/<version>/composite/sobjects")
    def create_collection(version: str):
        body = _collection_body()
        if isinstance(body, _Failure):
            return _errors(400, body)
        with org.lock:
            results = _save_all(body, lambda record: _plan_insert(org, record))
        return jsonify(results)

    @bp.patch("/services/data/<version>/composite/sobjects/<sobject>/<id_field>")
    def upsert_collection(version: str, sobject: str, id_field: str):
        if id_field != EXTERNAL_ID_FIELD:
            return _unknown_external_id_field(id_field)
        body = _collection_body()
        if isinstance(body, _Failure):
            return _errors(400, body)
        with org.lock:
            results = _save_all(body, lambda record: _plan_keyed_upsert(org, sobject, record))
        return jsonify(results)

    return bp


def _save_all(body: dict, plan: Callable[[dict], Plan]) -> list[dict]:
    """Plan every record first, so that ``allOrNone`` can refuse them all together."""
    plans = [plan(record) for record in body["records"]]
    if body.get("allOrNone") and any(isinstance(p, _Failure) for p in plans):
        return [(p if isinstance(p, _Failure) else ROLLED_BACK).as_result() for p in plans]
    return [p.as_result() if isinstance(p, _Failure) else p() for p in plans]


def _plan_insert(org: _Org, record: dict) -> Plan:
    sobject, fields = _typed(record)
    if sobject not in KEY_PREFIXES:
        return _Failure("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
    failure = _check(sobject, fields, True)
    if failure:
        return failure
    return lambda: {"id": org.insert(sobject, fields), "success": True, "errors": []}


def _plan_keyed_upsert(org: _Org, sobject: str, record: dict) -> Plan:
    declared, fields = _typed(record)
    if declared != sobject:
        return _Failure("INVALID_TYPE", f"Record type must be {sobject}, not '{declared}'.")
    if not fields.get(EXTERNAL_ID_FIELD):
        return _Failure("MISSING_ARGUMENT", f"{EXTERNAL_ID_FIELD} not specified")
    matches = org.matching(sobject, fields[EXTERNAL_ID_FIELD])
    if len(matches) > 1:
        return _Failure("DUPLICATE_EXTERNAL_ID", "More than one record found for external id")
    return _plan_upsert(org, sobject, fields, matches)


def _plan_upsert(org: _Org, sobject: str, fields: dict, matches: list[str]) -> Plan:
    failure = _check(sobject, fields, creating=not matches)
    if failure:
        return failure
    if matches:
        return lambda: _updated(org, matches[0], fields)
    return lambda: {
        "id": org.insert(sobject, fields),
        "success": True,
        "errors": [],
        "created": True,
    }


def _updated(org: _Org, existing_id: str, fields: dict) -> dict:
    org.update(existing_id, fields)
    return {"id": existing_id, "success": True, "errors": [], "created": False}


def _check(sobject: str, fields: dict, creating: bool) -> _Failure | None:
    known = STANDARD_FIELDS[sobject] | {EXTERNAL_ID_FIELD}
    unknown = [name for name in fields if name not in known]
    if unknown:
        return _Failure(
            "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}"
        )
    missing = [
        name
        for name in REQUIRED_FIELDS[sobject]
        if (creating or name in fields) and not fields.get(name)
    ]
    if missing:
        return _Failure(
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            tuple(missing),
        )
    email = fields.get("Email")
    if email and not (isinstance(email, str) and _EMAIL.fullmatch(email)):
        return _Failure(
            "INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {email}", ("Email",)
        )
    return None


def _shown(record: _Record, shown_id: str, version: str, wanted: str | None) -> dict | _Failure:
    values = {
        **dict.fromkeys(STANDARD_FIELDS[record.sobject]),
        **dict.fromkeys(CHECKBOX_FIELDS, False),
        EXTERNAL_ID_FIELD: None,
        **record.fields,
        "Id": shown_id,
        "IsDeleted": False,
        "CreatedDate": record.created,
    }
    names = wanted.split(",") if wanted else sorted(values)
    unknown = [name for name in names if name not in values]
    if unknown:
        return _Failure(
            "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{record.sobject}'"
        )
    attributes = {"type": record.sobject, "url": _record_url(version, record.sobject, shown_id)}
    return {"attributes": attributes, **{name: values[name] for name in names}}


def _typed(record: object) -> tuple[str | None, dict]:
    if not isinstance(record, dict) or not isinstance(record.get("attributes"), dict):
        return None, {}
    fields = {name: value for name, value in record.items() if name != "attributes"}
    return record["attributes"].get("type"), fields


def _record_body() -> dict | _Failure:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _Failure("JSON_PARSER_ERROR", "The request body must be a JSON object of fields")
    return body


def _collection_body() -> dict | _Failure:
    body = _record_body()
    if isinstance(body, dict) and not (
        isinstance(body.get("records"), list) and 0 < len(body["records"]) <= 200
    ):
        return _Failure("INVALID_FIELD", "records: a list of 1 to 200 sObjects is required")
    return body


def _client_credentials() -> tuple[str, str]:
    """The consumer key and secret, from the form (client_secret_post) or HTTP basic."""
    if request.authorization and request.authorization.type == "basic":
        return request.authorization.username or "", request.authorization.password or ""
    return request.form.get("client_id", ""), request.form.get("client_secret", "")


def _token_response(token: str, secret: str) -> dict:
    instance_url = request.base_url.removesuffix("/services/oauth2/token")
    identity = f"{instance_url}/id/{ORG_ID}/{INTEGRATION_USER_ID}"
    issued_at = str(int(time.time() * 1000))
    signature = hmac.new(secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
    return {
        "access_token": token,
        "signature": base64.b64encode(signature.digest()).decode(),
        "scope": "api",
        "instance_url": instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _record_url(version: str, sobject: str, shown_id: str) -> str:
    return f"/services/data/{version}/sobjects/{sobject}/{shown_id}"


def _oauth_error(code: str, description: str) -> Response:
    return _json({"error": code, "error_description": description}, 400)


def _unknown_external_id_field(name: str) -> Response:
    message = f"Provided external ID field does not exist or is not accessible: {name}"
    return _errors(404, _Failure("NOT_FOUND", message))


def _not_found() -> Response:
    return _errors(404, _Failure("NOT_FOUND", "The requested resource does not exist"))


def _errors(status: int, failure: _Failure) -> Response:
    return _json([failure.as_error()], status)


def _json(document: object, status: int) -> Response:
    response = jsonify(document)
    response.status_code = status
    return response

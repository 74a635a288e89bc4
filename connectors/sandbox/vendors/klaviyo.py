"""Fake Klaviyo API (revision 2024-10-15 and later): profiles, consent, events, deletion.

Follows Klaviyo's API reference and its OpenAPI documents (github.com/klaviyo/openapi):
the private key in ``Authorization: Klaviyo-API-Key <key>``, a required ``revision``
header, JSON:API documents in and out, errors as ``{"errors": [...]}`` with id, status,
code, title, detail and source. Jobs (bulk subscribe, bulk import, deletion) are answered
``202`` as Klaviyo does, but done at once. Profile IDs have the 26 characters of
Klaviyo's and are numbered in creation order, so sample calls can name them.
``meta.patch_properties`` is accepted and not applied.
"""

from __future__ import annotations

import hmac
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, jsonify, request

VENDOR = "klaviyo"
CREDENTIALS = {"api_key": "pk_sandbox0123456789abcdef0123456789ab"}
#: The oldest revision the fake serves: the one the connector is written for.
OLDEST_REVISION = "2024-10-15"
#: The lists every sandbox account has.
LISTS = ("Y6nRLr",)
PROFILE_FIELDS = frozenset(
    {
        "email",
        "phone_number",
        "external_id",
        "first_name",
        "last_name",
        "organization",
        "locale",
        "title",
        "image",
        "location",
        "properties",
    }
)
IDENTIFIERS = ("email", "phone_number", "external_id")
#: Identifiers an event may name its profile by, besides Klaviyo's profile ID.
EVENT_IDENTIFIERS = (*IDENTIFIERS, "anonymous_id", "_kx")

_REVISION = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})(\.[a-z]+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class _Invalid(Exception):
    """A request Klaviyo refuses; carries the JSON:API error to answer with."""

    TITLES = {
        400: "Invalid input.",
        401: "Authentication credentials were not provided.",
        404: "Not found.",
        409: "Conflict.",
    }

    def __init__(self, status: int, code: str, detail: str, **source: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.source = status, code, detail, source
        self.meta: dict = {}

    def response(self) -> Response:
        error = {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": self.TITLES[self.status],
            "detail": self.detail,
            **({"source": self.source} if self.source else {}),
            **({"meta": self.meta} if self.meta else {}),
        }
        return _document({"errors": [error]}, self.status)


class _Profiles:
    """The account's profiles by ID, shared by the views."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict] = {}
        self.created = 0
        self.lock = threading.Lock()

    def matching(self, attributes: Mapping) -> str | None:
        for profile_id, profile in self.by_id.items():
            if any(
                attributes.get(name) and profile["attributes"][name] == attributes[name]
                for name in IDENTIFIERS
            ):
                return profile_id
        return None

    def create(self, attributes: Mapping) -> str:
        self.created += 1
        profile_id = f"01J{self.created:023d}"
        now = _now()
        self.by_id[profile_id] = {
            "attributes": {**dict.fromkeys(sorted(PROFILE_FIELDS)), "created": now},
            "subscriptions": {},
        }
        self.update(profile_id, attributes)
        return profile_id

    def update(self, profile_id: str, attributes: Mapping) -> None:
        stored = self.by_id[profile_id]["attributes"]
        for name in PROFILE_FIELDS & set(attributes):
            merges = name in ("location", "properties") and isinstance(attributes[name], dict)
            stored[name] = (
                {**(stored[name] or {}), **attributes[name]} if merges else attributes[name]
            )
        stored["updated"] = _now()

    def upsert(self, profile_id: str | None, attributes: Mapping) -> tuple[str, bool]:
        """The profile's ID, and whether it was created."""
        existing = profile_id if profile_id in self.by_id else self.matching(attributes)
        if existing is None:
            return self.create(attributes), True
        self.update(existing, attributes)
        return existing, False


def create_blueprint(credentials: Mapping[str, str]) -> Blueprint:
    bp = Blueprint("klaviyo", __name__)
    profiles = _Profiles()

    @bp.errorhandler(_Invalid)
    def refuse(invalid: _Invalid):
        return invalid.response()

    @bp.before_request
    def authenticate():
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Klaviyo-API-Key" or not hmac.compare_digest(
            key.encode(), credentials["api_key"].encode()
        ):
            raise _Invalid(401, "not_authenticated", "Missing or invalid private key.")
        _check_revision(request.headers.get("revision", ""))

    @bp.post("/api/profiles")
    def create_profile():
        data = _data("profile")
        attributes = _profile_attributes(data, "/data/attributes", needs_identifier=True)
        with profiles.lock:
            duplicate = profiles.matching(attributes)
            if duplicate:
                raise _duplicate(duplicate)
            profile_id = profiles.create(attributes)
            return _document({"data": _resource(profiles, profile_id)}, 201)

    @bp.get("/api/profiles/<profile_id>")
    def get_profile(profile_id: str):
        with profiles.lock:
            _known(profiles, profile_id)
            return _document({"data": _resource(profiles, profile_id)}, 200)

    @bp.patch("/api/profiles/<profile_id>")
    def update_profile(profile_id: str):
        data = _data("profile")
        if data.get("id") != profile_id:
            raise _Invalid(
                409, "conflict", "The ID in the body does not match the URL.", pointer="/data/id"
            )
        attributes = _profile_attributes(data, "/data/attributes", needs_identifier=False)
        with profiles.lock:
            _known(profiles, profile_id)
            profiles.update(profile_id, attributes)
            return _document({"data": _resource(profiles, profile_id)}, 200)

    @bp.post("/api/profile-import")
    def create_or_update_profile():
        data = _data("profile")
        attributes = _profile_attributes(
            data, "/data/attributes", needs_identifier=not data.get("id")
        )
        with profiles.lock:
            profile_id, created = profiles.upsert(data.get("id"), attributes)
            return _document({"data": _resource(profiles, profile_id)}, 201 if created else 200)

    @bp.post("/api/profile-subscription-bulk-create-jobs")
    def bulk_subscribe_profiles():
        data = _data("profile-subscription-bulk-create-job")
        _known_lists(_related_list_ids(data, "list"))
        entries = _profile_entries(data, 1000)
        historical = bool(_dict(data.get("attributes")).get("historical_import"))
        consents = [_consents(entry, index, historical) for index, entry in enumerate(entries)]
        with profiles.lock:
            for entry, consent in zip(entries, consents, strict=True):
                profile_id, _ = profiles.upsert(entry.get("id"), _dict(entry["attributes"]))
                _merge(profiles.by_id[profile_id]["subscriptions"], consent)
        return Response(status=202)

    @bp.post("/api/profile-bulk-import-jobs")
    def bulk_import_profiles():
        data = _data("profile-bulk-import-job")
        _known_lists(_related_list_ids(data, "lists"))
        entries = _profile_entries(data, 10000)
        for index, entry in enumerate(entries):
            where = f"/data/attributes/profiles/data/{index}/attributes"
            _profile_attributes(entry, where, needs_identifier=not entry.get("id"))
        with profiles.lock:
            for entry in entries:
                profiles.upsert(entry.get("id"), _dict(entry.get("attributes")))
        return _document({"data": _import_job(len(entries))}, 202)

    @bp.post("/api/events")
    def create_event():
        data = _data("event")
        attributes = _dict(data.get("attributes"))
        if not isinstance(attributes.get("properties"), dict):
            raise _required("/data/attributes/properties")
        _metric_name(attributes)
        profile = _event_profile(attributes)
        known = {name: value for name, value in profile.items() if name in PROFILE_FIELDS}
        if any(known.get(name) for name in IDENTIFIERS):
            with profiles.lock:
                profiles.upsert(None, known)
        return Response(status=202)

    @bp.post("/api/data-privacy-deletion-jobs")
    def request_profile_deletion():
        data = _data("data-privacy-deletion-job")
        subject = _deletion_subject(data)
        with profiles.lock:
            found = subject.get("id") if subject.get("id") in profiles.by_id else None
            found = found or profiles.matching(subject)
            if found:
                del profiles.by_id[found]
        return Response(status=202)

    return bp


def _check_revision(revision: str) -> None:
    match = _REVISION.fullmatch(revision)
    if match is None:
        raise _Invalid(
            400, "invalid", "The `revision` header is required (YYYY-MM-DD).", parameter="revision"
        )
    if match.group(1) < OLDEST_REVISION:
        raise _Invalid(
            400,
            "invalid",
            f"Revision {revision} is not served here; use {OLDEST_REVISION} or later.",
            parameter="revision",
        )


def _data(expected_type: str) -> dict:
    body = request.get_json(silent=True)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise _Invalid(400, "invalid", "The body must be a JSON:API document.", pointer="/data")
    if data.get("type") != expected_type:
        raise _Invalid(
            409,
            "conflict",
            f"The type {data.get('type')!r} does not match the endpoint's type {expected_type!r}.",
            pointer="/data/type",
        )
    return data


def _profile_attributes(resource: dict, where: str, needs_identifier: bool) -> dict:
    """The profile attributes of a resource, checked as Klaviyo checks them."""
    attributes = _dict(resource.get("attributes"))
    unknown = sorted(set(attributes) - PROFILE_FIELDS)
    if unknown:
        raise _Invalid(
            400,
            "invalid",
            f"'{unknown[0]}' is not a valid field for the resource 'profile'.",
            pointer=f"{where}/{unknown[0]}",
        )
    _check_identifiers(attributes, where)
    if needs_identifier and not any(attributes.get(name) for name in IDENTIFIERS):
        raise _Invalid(
            400,
            "invalid",
            "One of 'email', 'phone_number' or 'external_id' is required.",
            pointer=where,
        )
    return attributes


def _check_identifiers(attributes: Mapping, where: str) -> None:
    email, phone = attributes.get("email"), attributes.get("phone_number")
    if email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email)):
        raise _Invalid(400, "invalid", "Invalid email address", pointer=f"{where}/email")
    if phone is not None and not (isinstance(phone, str) and _E164.fullmatch(phone)):
        raise _Invalid(
            400,
            "invalid",
            "Invalid phone number format (Example of a valid format: +12345678901)",
            pointer=f"{where}/phone_number",
        )


def _profile_entries(data: dict, most: int) -> list[dict]:
    entries = _dict(_dict(data.get("attributes")).get("profiles")).get("data")
    if not isinstance(entries, list) or not 0 < len(entries) <= most:
        raise _Invalid(
            400,
            "invalid",
            f"Between 1 and {most} profiles are required.",
            pointer="/data/attributes/profiles/data",
        )
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("type") != "profile":
            raise _required(f"/data/attributes/profiles/data/{index}/type")
    return entries


def _consents(entry: dict, index: int, historical: bool) -> dict:
    """The consent a bulk-subscribe entry gives, by channel and message type."""
    where = f"/data/attributes/profiles/data/{index}/attributes"
    attributes = _dict(entry.get("attributes"))
    _check_identifiers(attributes, where)
    if not (attributes.get("email") or attributes.get("phone_number")):
        raise _Invalid(400, "invalid", "An email or a phone number is required.", pointer=where)
    channels = attributes.get("subscriptions")
    if not isinstance(channels, dict) or not channels:
        raise _required(f"{where}/subscriptions")
    consents = {
        channel: {kind: _consent(given, historical) for kind, given in _dict(kinds).items()}
        for channel, kinds in channels.items()
    }
    if any(None in kinds.values() for kinds in consents.values()):
        raise _Invalid(
            400,
            "invalid",
            "Consent must be SUBSCRIBED; consented_at needs historical_import.",
            pointer=f"{where}/subscriptions",
        )
    return consents


def _consent(given: object, historical: bool) -> dict | None:
    given = _dict(given)
    if given.get("consent") != "SUBSCRIBED" or ("consented_at" in given and not historical):
        return None
    return {"consent": "SUBSCRIBED", "consent_timestamp": given.get("consented_at") or _now()}


def _metric_name(attributes: dict) -> str:
    metric = _dict(_dict(attributes.get("metric")).get("data"))
    name = _dict(metric.get("attributes")).get("name")
    if metric.get("type") != "metric" or not isinstance(name, str) or not name:
        raise _required("/data/attributes/metric/data/attributes/name")
    return name


def _event_profile(attributes: dict) -> dict:
    profile = _dict(_dict(attributes.get("profile")).get("data"))
    if profile.get("type") != "profile":
        raise _required("/data/attributes/profile/data/type")
    given = _dict(profile.get("attributes"))
    _check_identifiers(given, "/data/attributes/profile/data/attributes")
    if not (profile.get("id") or any(given.get(name) for name in EVENT_IDENTIFIERS)):
        raise _Invalid(
            400,
            "invalid",
            "The profile needs an ID or one identifier.",
            pointer="/data/attributes/profile/data",
        )
    return given


def _deletion_subject(data: dict) -> dict:
    """The one identifier of the profile to delete: ``id``, ``email`` or ``phone_number``."""
    profile = _dict(_dict(_dict(data.get("attributes")).get("profile")).get("data"))
    if profile.get("type") != "profile":
        raise _required("/data/attributes/profile/data/type")
    given = {"id": profile.get("id"), **_dict(profile.get("attributes"))}
    named = {name: value for name, value in given.items() if value}
    if set(named) - {"id", "email", "phone_number"} or len(named) != 1:
        raise _Invalid(
            400,
            "invalid",
            "Exactly one of 'id', 'email' or 'phone_number' identifies the profile to delete.",
            pointer="/data/attributes/profile/data",
        )
    return named


def _related_list_ids(data: dict, relationship: str) -> list[str]:
    related = _dict(_dict(data.get("relationships")).get(relationship)).get("data")
    entries = related if isinstance(related, list) else [related] if related else []
    return [_dict(entry).get("id") for entry in entries]


def _known_lists(list_ids: list[str]) -> None:
    for list_id in list_ids:
        if list_id not in LISTS:
            raise _Invalid(404, "not_found", f"A list with id {list_id!r} does not exist.")


def _known(profiles: _Profiles, profile_id: str) -> None:
    if profile_id not in profiles.by_id:
        raise _Invalid(404, "not_found", f"A profile with id {profile_id!r} does not exist.")


def _resource(profiles: _Profiles, profile_id: str) -> dict:
    profile = profiles.by_id[profile_id]
    attributes = dict(profile["attributes"])
    if "subscriptions" in request.args.get("additional-fields[profile]", ""):
        attributes["subscriptions"] = profile["subscriptions"]
    return {
        "type": "profile",
        "id": profile_id,
        "attributes": attributes,
        "links": {"self": f"{_api_root()}/profiles/{profile_id}/"},
    }


def _import_job(count: int) -> dict:
    job_id = uuid.uuid4().hex
    created = datetime.now(UTC)
    return {
        "type": "profile-bulk-import-job",
        "id": job_id,
        "attributes": {
            "status": "queued",
            "created_at": created.isoformat(timespec="seconds"),
            "total_count": count,
            "completed_count": 0,
            "failed_count": 0,
            "completed_at": None,
            "expires_at": (created + timedelta(days=7)).isoformat(timespec="seconds"),
            "started_at": None,
        },
        "links": {"self": f"{_api_root()}/profile-bulk-import-jobs/{job_id}/"},
    }


def _duplicate(profile_id: str) -> _Invalid:
    invalid = _Invalid(
        409,
        "duplicate_profile",
        "A profile already exists with one of these identifiers.",
        pointer="/data/attributes",
    )
    invalid.meta = {"duplicate_profile_id": profile_id}
    return invalid


def _merge(stored: dict, consents: dict) -> None:
    for channel, kinds in consents.items():
        stored.setdefault(channel, {}).update(kinds)


def _required(pointer: str) -> _Invalid:
    return _Invalid(400, "invalid", "This field is required.", pointer=pointer)


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _api_root() -> str:
    return request.base_url[: request.base_url.index("/api/") + len("/api")]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _document(document: dict, status: int) -> Response:
    response = jsonify(document)
    response.status_code = status
    response.mimetype = "application/vnd.api+json"
    return response

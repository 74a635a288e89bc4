"""Apps of departments and their API keys: ``/api/v1/apps``.

Marketers register and manage the apps of their own departments (``apps:write``), IT and
admins those of any; whoever reads the catalog may read them. A client secret or key is
in the answer that creates it and never again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request

from catalog.errors import Invalid
from gateway.api import inputs
from gateway.api.auth import current_actor, guard
from gateway.api.operations import api_spec, ref
from gateway.db import db
from gateway.oauth.api_keys import (
    DEFAULT_OVERLAP,
    MAX_NAME_LENGTH,
    MAX_OVERLAP_HOURS,
    create_key,
    key_summary,
    revoke_key,
    rotate_key,
)
from gateway.oauth.apps import (
    MAX_DESCRIPTION_LENGTH,
    app_state,
    get_app,
    list_apps,
    register_app,
    remove_app,
    rotate_app_secret,
)
from gateway.oauth.models import Client
from gateway.snapshots import snapshots_of

SOURCE = "api"
_STAMP = {"type": ["string", "null"], "format": "date-time"}

KEY = api_spec.schema(
    "ApiKey",
    {
        "type": "object",
        "required": ["key_id", "name", "created_at", "expires_at", "revoked_at", "state"],
        "properties": {
            "key_id": {"type": "string", "description": "the public part of the key"},
            "name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "created_by": {"type": "string"},
            "expires_at": _STAMP,
            "revoked_at": _STAMP,
            "state": {"enum": ["active", "expiring", "expired", "revoked"]},
        },
    },
)
APP = api_spec.schema(
    "App",
    {
        "type": "object",
        "required": ["id", "client_id", "name", "department", "tools", "active"],
        "properties": {
            "id": {"type": "integer"},
            "client_id": {"type": "string"},
            "name": {"type": "string"},
            "department": {"type": "string"},
            "tools": {"type": "array", "items": {"type": "string"}},
            "description": {"type": ["string", "null"]},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "active": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "keys": {"type": "array", "items": KEY, "description": "in GET /apps/{app_id} only"},
        },
    },
)
APP_PAGE = api_spec.schema(
    "AppPage",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": APP},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
)
NEW_APP = api_spec.schema(
    "NewApp",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "department"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "department": {"type": "string", "maxLength": 64},
            "tools": {
                "type": "array",
                "items": {"type": "string", "maxLength": 64},
                "maxItems": 100,
                "description": "slugs of the catalog's tools the app will call",
            },
            "description": {"type": ["string", "null"], "maxLength": MAX_DESCRIPTION_LENGTH},
        },
    },
)
REGISTERED = api_spec.schema(
    "RegisteredApp",
    {
        "type": "object",
        "required": ["app", "client_secret"],
        "properties": {
            "app": APP,
            "client_secret": {"type": "string", "description": "shown this once"},
        },
    },
)
NEW_KEY = api_spec.schema(
    "NewApiKey",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
            "expires_at": {
                "type": ["string", "null"],
                "maxLength": 40,
                "description": "an ISO 8601 time (UTC if no offset); none: the key lasts",
            },
            "replaces": {
                "type": "string",
                "maxLength": 32,
                "description": "key_id of a key this one rotates",
            },
            "overlap_hours": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_OVERLAP_HOURS,
                "description": "how long the replaced key keeps working (default 24)",
            },
        },
    },
)
ISSUED_KEY = api_spec.schema(
    "IssuedApiKey",
    {
        "type": "object",
        "required": ["key", "api_key"],
        "properties": {
            "key": KEY,
            "api_key": {"type": "string", "description": "ghk_<key_id>_<secret>, shown this once"},
        },
    },
)
SECRET = api_spec.schema(
    "RotatedSecret",
    {
        "type": "object",
        "required": ["client_id", "client_secret"],
        "properties": {
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "description": "shown this once"},
        },
    },
)
_APP_ID = {"app_id": {"type": "integer", "minimum": 1, "maximum": inputs.MAX_ID}}
_KEY_ID = {"key_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{12}$"}}
_CURSOR = {
    "name": "cursor",
    "in": "query",
    "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
    "description": "next_cursor of the previous page",
}


def app_as_dict(client: Client, with_keys: bool = False) -> dict:
    state = app_state(client)
    document = {
        "id": client.id,
        **state,
        "created_at": client.created_at.isoformat(),
    }
    if with_keys:
        document["keys"] = [key_summary(key) for key in client.api_keys]
    return document


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/apps",
        guard,
        summary="The apps of your departments (all of them for IT and admins)",
        permission="catalog:read",
        query=(ref("parameters", "limit"), _CURSOR),
        answers={200: ("A page of apps, oldest first", APP_PAGE)},
        tag="apps",
    )
    def list_apps_view():
        limit = inputs.query_integer("limit", 100, 1, 1000)
        after = int(request.args.get("cursor") or 0)
        apps = list_apps(db.session, current_actor(), after, limit + 1)
        more = len(apps) > limit
        apps = apps[:limit]
        return jsonify(
            items=[app_as_dict(client) for client in apps],
            next_cursor=str(apps[-1].id) if more else None,
        )

    @api_spec.operation(
        bp,
        "POST",
        "/apps",
        guard,
        summary="Register an app of one of your departments; its secret is shown once",
        permission="apps:write",
        body=NEW_APP,
        answers={201: ("The app and its client secret", REGISTERED), 409: ("Name taken", None)},
        tag="apps",
    )
    def register_app_view():
        body = inputs.json_body()
        inputs.check_body(body, "NewApp")
        client, secret = register_app(
            db.session,
            current_actor(),
            SOURCE,
            body["name"],
            body["department"],
            body.get("tools", []),
            body.get("description"),
        )
        _commit()
        return jsonify(app=app_as_dict(client), client_secret=secret), 201

    @api_spec.operation(
        bp,
        "GET",
        "/apps/{app_id}",
        guard,
        path_schemas=_APP_ID,
        summary="One app and its keys (never a secret)",
        permission="catalog:read",
        answers={200: ("The app", APP)},
        tag="apps",
    )
    def get_app_view(app_id: str):
        return jsonify(app_as_dict(_app(app_id), with_keys=True))

    @api_spec.operation(
        bp,
        "DELETE",
        "/apps/{app_id}",
        guard,
        path_schemas=_APP_ID,
        summary="Remove an app: deactivated, its keys revoked, its records kept",
        permission="apps:write",
        answers={200: ("The app, now inactive", APP)},
        tag="apps",
    )
    def remove_app_view(app_id: str):
        client = _app(app_id)
        remove_app(db.session, current_actor(), SOURCE, client)
        _commit()
        return jsonify(app_as_dict(client, with_keys=True))

    @api_spec.operation(
        bp,
        "POST",
        "/apps/{app_id}/keys",
        guard,
        path_schemas=_APP_ID,
        summary="A new API key (shown once), or one rotating another with an overlap",
        permission="apps:write",
        body=NEW_KEY,
        answers={201: ("The key", ISSUED_KEY), 409: ("The replaced key is not usable", None)},
        tag="apps",
    )
    def create_key_view(app_id: str):
        client = _app(app_id)
        body = inputs.json_body()
        inputs.check_body(body, "NewApiKey")
        expires_at = _time(body.get("expires_at"), "/expires_at")
        actor = current_actor()
        if "replaces" in body:
            overlap = body.get("overlap_hours")
            new = rotate_key(
                db.session,
                actor,
                SOURCE,
                client,
                body["replaces"],
                DEFAULT_OVERLAP if overlap is None else timedelta(hours=overlap),
                body.get("name"),
                expires_at,
            )
        elif "overlap_hours" in body:
            raise _invalid("/overlap_hours", "applies to a rotation: give replaces too")
        else:
            new = create_key(db.session, actor, SOURCE, client, body.get("name", ""), expires_at)
        _commit()
        return jsonify(key=key_summary(new.key), api_key=new.plaintext), 201

    @api_spec.operation(
        bp,
        "DELETE",
        "/apps/{app_id}/keys/{key_id}",
        guard,
        path_schemas=_APP_ID | _KEY_ID,
        summary="Revoke an API key: refused from now on",
        permission="apps:write",
        answers={200: ("The key, revoked", KEY)},
        tag="apps",
    )
    def revoke_key_view(app_id: str, key_id: str):
        key = revoke_key(db.session, current_actor(), SOURCE, _app(app_id), key_id)
        _commit()
        return jsonify(key_summary(key))

    @api_spec.operation(
        bp,
        "POST",
        "/apps/{app_id}/secret",
        guard,
        path_schemas=_APP_ID,
        summary="A new client secret (shown once); the old one stops working at once",
        permission="apps:write",
        answers={200: ("The new secret", SECRET), 409: ("The app is removed", None)},
        tag="apps",
    )
    def rotate_secret_view(app_id: str):
        client = _app(app_id)
        secret = rotate_app_secret(db.session, current_actor(), SOURCE, client)
        _commit()
        return jsonify(client_id=client.client_id, client_secret=secret)


def _app(text: str) -> Client:
    return get_app(db.session, current_actor(), inputs.path_id(text, "app"))


def _time(text: str | None, pointer: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:  # overflow: 9999-12-31T23:00-05:00
        raise _invalid(pointer, "must be an ISO 8601 time (2027-01-31T12:00Z)") from exc


def _invalid(pointer: str, message: str) -> Invalid:
    return Invalid("the key cannot be made as given", [{"pointer": pointer, "message": message}])


def _commit() -> None:
    """Commit, and have this instance's proxy see the change on its next call."""
    db.session.commit()
    snapshots_of(current_app).invalidate()

"""Users over the API: list, create, read and change them (``users:admin``), and ``/me``,
which tells any caller who the gateway takes it for.

A user created without a password gets a one-time sign-in link, in the answer only.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from gateway.api import inputs
from gateway.api.auth import current_actor, guard
from gateway.api.operations import api_spec, ref
from gateway.db import db
from gateway.identity.roles import Role
from gateway.identity.sign_in_links import issue_link, link_url
from gateway.identity.users import (
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_USER_ID,
    MIN_PASSWORD_LENGTH,
    PERMISSION,
    create_user,
    get_user,
    list_users,
    update_user,
    user_as_dict,
)

SOURCE = "api"
_ROLE = {"enum": [role.value for role in Role]}
_DEPARTMENTS = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 64},
    "maxItems": 100,
    "uniqueItems": True,
}
_NAME = {"type": "string", "maxLength": MAX_NAME_LENGTH}

USER = api_spec.schema(
    "User",
    {
        "type": "object",
        "required": ["id", "email", "name", "role", "departments", "active"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "role": _ROLE,
            "departments": {"type": "array", "items": {"type": "string"}},
            "active": {"type": "boolean"},
            "single_sign_on": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "last_sign_in_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
)
USER_PAGE = api_spec.schema(
    "UserPage",
    {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": USER},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
)
NEW_USER = api_spec.schema(
    "NewUser",
    {
        "type": "object",
        "required": ["email", "role"],
        "additionalProperties": False,
        "properties": {
            "email": {"type": "string", "minLength": 3, "maxLength": 320},
            "role": _ROLE,
            "departments": _DEPARTMENTS,
            "name": _NAME,
            "password": {
                "type": "string",
                "minLength": MIN_PASSWORD_LENGTH,
                "maxLength": MAX_PASSWORD_LENGTH,
                "description": "if absent, the answer carries a one-time sign-in link",
            },
        },
    },
)
CREATED_USER = api_spec.schema(
    "CreatedUser",
    {
        "type": "object",
        "required": ["user", "sign_in_link"],
        "properties": {
            "user": USER,
            "sign_in_link": {
                "type": ["string", "null"],
                "description": "opens the set-password page once, for 24 hours; shown only now",
            },
        },
    },
)
USER_CHANGE = api_spec.schema(
    "UserChange",
    {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "role": _ROLE,
            "departments": _DEPARTMENTS,
            "name": _NAME,
            "active": {"type": "boolean", "description": "false ends the user's sessions"},
        },
    },
)
ME = api_spec.schema(
    "Me",
    {
        "type": "object",
        "required": ["kind", "id", "label", "role", "permissions", "departments"],
        "properties": {
            "kind": {"enum": ["user", "app"]},
            "id": {"type": "string", "description": "the user's id or the app's client id"},
            "label": {"type": "string", "description": "the user's e-mail or the app's name"},
            "role": {"type": ["string", "null"]},
            "permissions": {"type": "array", "items": {"type": "string"}},
            "departments": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "null: every department",
            },
        },
    },
)
_CURSOR = {
    "name": "cursor",
    "in": "query",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_USER_ID},
    "description": "next_cursor of the previous page",
}
_ROLE_FILTER = {"name": "role", "in": "query", "schema": _ROLE}


def register(bp: Blueprint) -> None:
    @api_spec.operation(
        bp,
        "GET",
        "/users",
        guard,
        summary="List users (by id, paged), optionally of one role or department",
        permission=PERMISSION,
        query=(
            _ROLE_FILTER,
            ref("parameters", "department"),
            ref("parameters", "limit"),
            _CURSOR,
        ),
        answers={200: ("A page of users", USER_PAGE)},
        tag="users",
    )
    def list_users_view():
        limit = inputs.query_integer("limit", 100, 1, 1000)
        users = list_users(
            db.session,
            current_actor(),
            role=request.args.get("role"),
            department=request.args.get("department"),
            after_id=inputs.query_integer("cursor", 0, 0, MAX_USER_ID),
            limit=limit + 1,
        )
        more = len(users) > limit
        users = users[:limit]
        return jsonify(
            items=[user_as_dict(user) for user in users],
            next_cursor=str(users[-1].id) if more else None,
        )

    @api_spec.operation(
        bp,
        "POST",
        "/users",
        guard,
        summary="Create a user; without a password, get a one-time sign-in link",
        permission=PERMISSION,
        body=NEW_USER,
        answers={
            201: ("The user, and the sign-in link shown only now", CREATED_USER),
            409: ("A user with this e-mail address exists (problem+json)", None),
        },
        tag="users",
    )
    def create_user_view():
        body = inputs.json_body()
        inputs.check_body(body, "NewUser")
        user = create_user(
            db.session,
            current_actor(),
            SOURCE,
            body["email"],
            body["role"],
            body.get("departments", ()),
            body.get("name", ""),
            body.get("password"),
        )
        token = None if "password" in body else issue_link(db.session, user)
        db.session.commit()
        link = link_url(request.url_root, token) if token else None
        response = jsonify(user=user_as_dict(user), sign_in_link=link)
        response.headers["Cache-Control"] = "no-store"
        return response, 201

    @api_spec.operation(
        bp,
        "GET",
        "/users/{user_id}",
        guard,
        summary="One user",
        permission=PERMISSION,
        answers={200: ("The user", USER)},
        tag="users",
    )
    def get_user_view(user_id: str):
        user = get_user(db.session, current_actor(), inputs.path_id(user_id, "user"))
        return jsonify(user_as_dict(user))

    @api_spec.operation(
        bp,
        "PATCH",
        "/users/{user_id}",
        guard,
        summary="Change a user's role, departments, name, or whether the account is active",
        permission=PERMISSION,
        body=USER_CHANGE,
        answers={
            200: ("The user as changed", USER),
            409: ("You cannot deactivate your own account (problem+json)", None),
        },
        tag="users",
    )
    def change_user_view(user_id: str):
        actor = current_actor()
        user = get_user(db.session, actor, inputs.path_id(user_id, "user"))
        body = inputs.json_body()
        inputs.check_body(body, "UserChange")
        update_user(db.session, actor, SOURCE, user, **body)
        db.session.commit()
        return jsonify(user_as_dict(user))

    @api_spec.operation(
        bp,
        "GET",
        "/me",
        guard,
        summary="Who the gateway takes the caller for: role, permissions, departments",
        permission="catalog:read",
        answers={200: ("The caller", ME)},
        tag="users",
    )
    def me_view():
        actor = current_actor()
        departments = None if actor.departments is None else sorted(actor.departments)
        return jsonify(
            kind=actor.kind,
            id=actor.id,
            label=actor.label,
            role=actor.role.value if actor.role else None,
            permissions=sorted(actor.permissions),
            departments=departments,
        )

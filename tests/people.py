"""Users for tests: created in the database, and signed in to a Flask test client."""

from __future__ import annotations

import re
import time

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from catalog.models import Department
from gateway.db import db
from gateway.identity.models import User
from gateway.identity.passwords import hash_password
from gateway.identity.roles import Role

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def make_user(
    app: Flask,
    email: str,
    role: Role | str,
    departments: tuple[str, ...] = (),
    password: str | None = None,
) -> int:
    """A user (and any department it names that does not exist yet); returns its id."""
    with app.app_context():
        members = []
        for slug in departments:
            department = db.session.scalar(select(Department).where(Department.slug == slug))
            if department is None:
                department = Department(slug=slug, name=slug.title())
                db.session.add(department)
            members.append(department)
        user = User(
            email=email,
            role=Role(role),
            password_hash=hash_password(password) if password else None,
            departments=members,
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def signed_in(app: Flask, user_id: int) -> FlaskClient:
    """A test client whose session is that of ``user_id`` (sign-in itself is tested apart)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = user_id
        session["epoch"] = 0
        session["signed_in_at"] = int(time.time())
        session["_permanent"] = True
    return client


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of the client's session, as a portal page carries it."""
    page = client.get("/portal/sign-in")
    return _CSRF_META.search(page.get_data(as_text=True)).group(1)

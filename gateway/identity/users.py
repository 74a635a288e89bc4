"""Managing users: create, change, deactivate, set a password — each change in the history.

The portal's users page, the ``/api/v1/users`` endpoints, ``gatehouse users`` and the
single sign-on that provisions users all go through here, so every change to a person's
role, departments or access is recorded once, in the same words. Neither a password nor
its hash ever enters the history; a password change is recorded as having happened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Conflict, Invalid, NotFound
from catalog.history import record_change
from catalog.models import Department
from gateway.identity.accounts import normalised_email
from gateway.identity.actors import Actor
from gateway.identity.models import User, user_departments
from gateway.identity.passwords import hash_password
from gateway.identity.roles import Role

PERMISSION = "users:admin"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 200
#: Users' ids are Integer columns (PostgreSQL refuses a larger number in a query).
MAX_USER_ID = 2**31 - 1
#: One @, something either side, a dot in the domain; the mail server has the last word.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


def user_state(user: User) -> dict[str, Any]:
    """The user as plain JSON for the history (never the password or its hash)."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "departments": user.department_slugs,
        "active": user.active,
        "single_sign_on": user.oidc_subject is not None,
    }


def user_as_dict(user: User) -> dict[str, Any]:
    """The user as the API and ``users list --json`` show it."""
    return {
        "id": user.id,
        **user_state(user),
        "created_at": user.created_at.isoformat(),
        "last_sign_in_at": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
    }


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    actor.require(PERMISSION)
    user = session.get(User, user_id) if 0 < user_id <= MAX_USER_ID else None
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def find_user_by_email(session: Session, actor: Actor, email: str) -> User:
    actor.require(PERMISSION)
    user = session.scalar(select(User).where(User.email == normalised_email(email)))
    if user is None:
        raise NotFound(f"no user with the e-mail address {normalised_email(email)!r}")
    return user


def list_users(
    session: Session,
    actor: Actor,
    role: str | None = None,
    department: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[User]:
    """Users by id, after ``after_id``; at most ``limit`` of them."""
    actor.require(PERMISSION)
    query = select(User).where(User.id > after_id).order_by(User.id).limit(limit)
    if role is not None:
        query = query.where(User.role == _role(role))
    if department is not None:
        query = query.where(
            User.id.in_(
                select(user_departments.c.user_id)
                .join(Department, Department.id == user_departments.c.department_id)
                .where(Department.slug == department)
            )
        )
    return list(session.scalars(query))


def department_choices(session: Session) -> list[Department]:
    """The departments a user may be put in, by name."""
    return list(session.scalars(select(Department).order_by(Department.name)))


def create_user(
    session: Session,
    actor: Actor,
    source: str,
    email: str,
    role: str,
    departments: Sequence[str] = (),
    name: str = "",
    password: str | None = None,
    identity: tuple[str, str] | None = None,
) -> User:
    """A new user; one signs in with ``password``, a sign-in link, or the identity
    provider whose (issuer, subject) is ``identity``."""
    actor.require(PERMISSION)
    email = _checked_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with the e-mail address {email!r} exists already")
    user = User(
        email=email,
        name=_checked_name(name),
        role=_role(role),
        departments=_departments(session, departments),
        password_hash=hash_password(_checked_password(password)) if password else None,
        oidc_issuer=identity[0] if identity else None,
        oidc_subject=identity[1] if identity else None,
    )
    session.add(user)
    session.flush()
    record_change(
        session, actor, source, "user", user.id, user.email, "created", None, user_state(user)
    )
    return user


def update_user(
    session: Session,
    actor: Actor,
    source: str,
    user: User,
    *,
    role: str | None = None,
    departments: Sequence[str] | None = None,
    name: str | None = None,
    active: bool | None = None,
    identity: tuple[str, str] | None = None,
) -> bool:
    """Changes what is given; returns whether anything changed. Deactivating or
    reactivating ends the user's sessions. ``identity`` links the user to an identity
    provider's (issuer, subject)."""
    actor.require(PERMISSION)
    before = user_state(user)
    if role is not None:
        user.role = _role(role)
    if departments is not None:
        user.departments = _departments(session, departments)
    if name is not None:
        user.name = _checked_name(name)
    if active is not None and active != user.active:
        _refuse_self_deactivation(actor, user, active)
        user.active = active
        user.session_epoch += 1
    if identity is not None:
        user.oidc_issuer, user.oidc_subject = identity
    after = user_state(user)
    if before == after:
        return False
    action = "updated"
    if before["active"] != after["active"]:
        action = "reactivated" if user.active else "deactivated"
    session.flush()
    record_change(session, actor, source, "user", user.id, user.email, action, before, after)
    return True


def set_password(session: Session, actor: Actor, source: str, user: User, password: str) -> None:
    """A new password for ``user`` (by an admin, or by the user with a sign-in link);
    every session of the user ends."""
    user.password_hash = hash_password(_checked_password(password))
    user.session_epoch += 1
    record_change(session, actor, source, "user", user.id, user.email, "password_set")


def _checked_email(email: str) -> str:
    normalised = normalised_email(email)
    if not _EMAIL.fullmatch(normalised) or len(normalised) > 320:
        raise Invalid(
            "the e-mail address is not valid",
            [{"pointer": "/email", "message": "must be an e-mail address such as ada@example.com"}],
        )
    return normalised


def _checked_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(
            "the name is too long",
            [{"pointer": "/name", "message": f"must be at most {MAX_NAME_LENGTH} characters"}],
        )
    return name


def _checked_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(
            "the password does not meet the policy",
            [
                {
                    "pointer": "/password",
                    "message": f"must be from {MIN_PASSWORD_LENGTH} to "
                    f"{MAX_PASSWORD_LENGTH} characters long",
                }
            ],
        )
    return password


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(
            f"there is no role {role!r}",
            [{"pointer": "/role", "message": f"must be one of {', '.join(Role)}"}],
        ) from None


def _departments(session: Session, slugs: Iterable[str]) -> list[Department]:
    wanted = sorted(set(slugs))
    found = list(
        session.scalars(
            select(Department).where(Department.slug.in_(wanted)).order_by(Department.slug)
        )
    )
    unknown = sorted(set(wanted) - {department.slug for department in found})
    if unknown:
        raise Invalid(
            f"no department {', '.join(map(repr, unknown))}",
            [{"pointer": "/departments", "message": f"no department {slug!r}"} for slug in unknown],
        )
    return found


def _refuse_self_deactivation(actor: Actor, user: User, active: bool) -> None:
    """An admin who deactivates themself may leave nobody able to undo it."""
    if not active and actor.kind == "user" and actor.id == str(user.id):
        raise Conflict("you cannot deactivate your own account")

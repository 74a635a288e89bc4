"""The demo's people: one account of every role, so the portal can be tried as each.

Every run of ``gatehouse demo`` gives them fresh generated passwords, printed once and
written to ``instance/demo-users.txt`` (readable by its owner only): running the demo
again never leaves anyone guessing an old password. The accounts are created once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.history import record_change
from catalog.models import Department
from gateway.identity.actors import Actor
from gateway.identity.models import User
from gateway.identity.passwords import hash_password
from gateway.identity.roles import Role

USERS_FILE = "demo-users.txt"
#: (role, e-mail, departments)
DEMO_PEOPLE = (
    (Role.MARKETER, "marketer@demo.gatehouse.test", ("growth",)),
    (Role.IT_REVIEWER, "reviewer@demo.gatehouse.test", ()),
    (Role.ADMIN, "admin@demo.gatehouse.test", ()),
    (Role.AUDITOR, "auditor@demo.gatehouse.test", ()),
)


@dataclass(frozen=True)
class DemoAccount:
    role: Role
    email: str
    password: str


def seed_demo_users(session: Session) -> list[DemoAccount]:
    """Creates the demo accounts that are missing and gives each a new password."""
    actor = Actor.for_operator("demo")
    accounts = []
    for role, email, departments in DEMO_PEOPLE:
        password = secrets.token_urlsafe(12)
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = _create(session, actor, role, email, departments)
        else:
            user.session_epoch += 1  # sessions signed in with the old password end
            record_change(session, actor, "demo", "user", user.id, email, "password_changed")
        user.password_hash = hash_password(password)
        accounts.append(DemoAccount(role, email, password))
    return accounts


def _create(
    session: Session, actor: Actor, role: Role, email: str, departments: tuple[str, ...]
) -> User:
    members = list(session.scalars(select(Department).where(Department.slug.in_(departments))))
    user = User(email=email, role=role, departments=members)
    session.add(user)
    session.flush()
    after = {"email": email, "role": role.value, "departments": list(departments)}
    record_change(session, actor, "demo", "user", user.id, email, "created", after=after)
    return user


def write_users_file(instance_path: Path, accounts: list[DemoAccount], portal_url: str) -> Path:
    """The accounts and their passwords, for whoever runs the demo (mode 0600)."""
    path = instance_path / USERS_FILE
    lines = [f"# Gatehouse demo accounts; sign in at {portal_url}"]
    lines += [f"{account.role.value}\t{account.email}\t{account.password}" for account in accounts]
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")
    return path

"""Who is acting: a signed-in user, an app with a token or key, or an operator's command.

Services take an :class:`Actor` and check it with :meth:`Actor.may` and
:meth:`Actor.sees`; the history records its kind, id and label. Nothing here knows how
the actor was authenticated.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass

from catalog.errors import Forbidden, NotFound
from gateway.identity.roles import COMPANY_WIDE, PERMISSIONS, ROLE_PERMISSIONS, Role


@dataclass(frozen=True)
class Actor:
    #: ``user``, ``app`` or ``cli``
    kind: str
    #: the user's id, the app's client id, or the operator's login name
    id: str
    #: what a person reading the history recognises: an e-mail address, an app's name
    label: str
    permissions: frozenset[str]
    #: slugs of the departments this actor acts for; ``None`` means every department
    departments: frozenset[str] | None
    role: Role | None = None

    @classmethod
    def for_user(cls, user_id: int, email: str, role: Role, departments: Iterable[str]):
        return cls(
            "user",
            str(user_id),
            email,
            ROLE_PERMISSIONS[role],
            None if role in COMPANY_WIDE else frozenset(departments),
            role,
        )

    @classmethod
    def for_app(cls, client_id: str, name: str, department: str, scopes: Iterable[str]):
        return cls("app", client_id, name, frozenset(scopes), frozenset({department}))

    @classmethod
    def for_operator(cls, source: str = "cli") -> Actor:
        """Whoever runs a ``gatehouse`` command on the server: all permissions."""
        return cls(
            "cli", _login_name(), f"{_login_name()} ({source})", frozenset(PERMISSIONS), None
        )

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def sees(self, department: str) -> bool:
        """Whether objects of ``department`` are visible to this actor."""
        return self.departments is None or department in self.departments

    def require(self, permission: str) -> None:
        if not self.may(permission):
            raise Forbidden(f"this needs the {permission!r} permission, which you do not have")

    def require_department(self, department: str) -> None:
        """Refuse, as if it did not exist, an object of a department this actor cannot see."""
        if not self.sees(department):
            raise NotFound("no such object")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"

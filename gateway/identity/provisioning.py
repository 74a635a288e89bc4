"""Users who sign in through the company's OpenID Provider: found, linked or created, with
role and departments taken from their groups at every sign-in.

The identity provider is the source of truth for who is in which group: a user moved
out of the marketing group loses that role at the next sign-in, and a user in no group
Gatehouse maps is refused. Every change is recorded in the history, made by the
identity provider.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import Invalid
from gateway.config import OidcSettings
from gateway.db import utcnow
from gateway.identity.accounts import normalised_email
from gateway.identity.actors import Actor
from gateway.identity.models import User
from gateway.identity.roles import Role
from gateway.identity.users import PERMISSION, create_user, update_user

#: When a person's groups map to several roles, the first of these wins.
ROLE_PRECEDENCE = (Role.ADMIN, Role.IT_REVIEWER, Role.AUDITOR, Role.MARKETER)
SOURCE = "oidc"


class SignInRefused(Exception):
    """The identity provider vouched for the person, but Gatehouse will not let them in;
    the message says why, for the person."""


def user_for_claims(session: Session, settings: OidcSettings, claims: dict[str, Any]) -> User:
    """The user these (verified) claims describe, brought up to date with their groups."""
    email = _email(claims)
    groups = _groups(claims.get(settings.groups_claim))
    role = _role(settings, groups)
    departments = sorted({settings.departments[g] for g in groups if g in settings.departments})
    identity = (settings.issuer, str(claims["sub"]))
    actor = _provider_actor(settings)
    user = _linked_user(session, identity) or _user_by_email(session, email, identity)
    try:
        if user is None:
            user = create_user(
                session,
                actor,
                SOURCE,
                email,
                role,
                departments,
                name=str(claims.get("name") or "")[:200],
                identity=identity,
            )
        else:
            _refuse_inactive(user)
            update_user(
                session, actor, SOURCE, user, role=role, departments=departments, identity=identity
            )
    except Invalid as refusal:  # a mapped department missing from the catalog
        raise SignInRefused(
            f"Gatehouse is set up wrongly for your groups ({refusal.message}); tell IT."
        ) from refusal
    user.last_sign_in_at = utcnow()
    return user


def _email(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") is False:
        raise SignInRefused(
            "Your identity provider did not share a verified e-mail address, which "
            "Gatehouse needs to know who you are."
        )
    return normalised_email(email)


def _groups(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [group for group in value if isinstance(group, str)]
    return []


def _role(settings: OidcSettings, groups: list[str]) -> str:
    roles = {Role(settings.roles[group]) for group in groups if group in settings.roles}
    for role in ROLE_PRECEDENCE:
        if role in roles:
            return role.value
    raise SignInRefused(
        "You are in no group that gives access to Gatehouse. Ask IT to add you to the "
        "right group at your identity provider."
    )


def _linked_user(session: Session, identity: tuple[str, str]) -> User | None:
    issuer, subject = identity
    return session.scalar(
        select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)
    )


def _user_by_email(session: Session, email: str, identity: tuple[str, str]) -> User | None:
    """A local account of the same e-mail address, if it is not linked to someone else."""
    user = session.scalar(select(User).where(User.email == email))
    linked_elsewhere = (
        user is not None
        and user.oidc_subject is not None
        and (user.oidc_issuer, user.oidc_subject) != identity
    )
    if linked_elsewhere:
        raise SignInRefused(
            "Your e-mail address belongs to an account linked to another identity; tell IT."
        )
    return user


def _refuse_inactive(user: User) -> None:
    if not user.active:
        raise SignInRefused("Your Gatehouse account is deactivated; ask IT to reactivate it.")


def _provider_actor(settings: OidcSettings) -> Actor:
    """The identity provider, as the history shows who made the change."""
    return Actor(
        "idp",
        settings.issuer[:320],
        f"identity provider {settings.issuer}"[:320],
        frozenset({PERMISSION}),
        None,
    )

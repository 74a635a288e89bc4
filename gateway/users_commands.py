"""``gatehouse users``: create, list and deactivate the people who use the portal.

A user created without ``--password-stdin`` gets a one-time sign-in link, printed once,
that opens the "set your password" page. Changes are recorded in the history as made
by the operator running the command (source ``users <command>``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup

from catalog.errors import CatalogRefusal
from gateway.config import config_of
from gateway.db import db
from gateway.identity.actors import Actor
from gateway.identity.models import User
from gateway.identity.roles import Role
from gateway.identity.sign_in_links import LINK_LIFETIME, issue_link, link_url
from gateway.identity.users import (
    create_user,
    find_user_by_email,
    list_users,
    update_user,
    user_as_dict,
)

users_group = AppGroup("users", help="People who sign in to the portal and the API.")
#: Users fetched per query when listing them all.
_PAGE = 500


@users_group.command("create")
@click.option("--email", required=True, help="The e-mail address, which is also the sign-in name.")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option(
    "--department", "departments", multiple=True, help="A department's slug (repeatable)."
)
@click.option("--name", default="", help="The person's name, as shown in the portal.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin instead of a link."
)
def users_create(
    email: str, role: str, departments: tuple[str, ...], name: str, password_stdin: bool
) -> None:
    """Create a user; print a one-time link to set a password (or read it from stdin)."""
    password = click.get_text_stream("stdin").read().rstrip("\r\n") if password_stdin else None
    actor = Actor.for_operator("users create")
    with _refusals_explained():
        user = create_user(
            db.session, actor, "users create", email, role, departments, name, password
        )
    token = None if password_stdin else issue_link(db.session, user)
    db.session.commit()
    click.echo(f"user {user.email} created ({user.role.value})")
    if token:
        hours = int(LINK_LIFETIME.total_seconds() // 3600)
        click.echo(f"one-time sign-in link (valid {hours} h, shown only now):")
        click.echo(link_url(config_of(current_app).issuer, token))


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the users as JSON.")
def users_list(as_json: bool) -> None:
    """List every user with role, departments and whether the account is active."""
    users = _all_users(Actor.for_operator("users list"))
    if as_json:
        click.echo(json.dumps([user_as_dict(user) for user in users], indent=2))
        return
    for user in users:
        state = "" if user.active else "  (deactivated)"
        departments = ",".join(user.department_slugs) or "-"
        click.echo(f"{user.email}\t{user.role.value}\t{departments}{state}")


@users_group.command("deactivate")
@click.option("--email", required=True)
def users_deactivate(email: str) -> None:
    """Deactivate a user: their sessions end at once and they can no longer sign in."""
    actor = Actor.for_operator("users deactivate")
    with _refusals_explained():
        user = find_user_by_email(db.session, actor, email)
        changed = update_user(db.session, actor, "users deactivate", user, active=False)
    db.session.commit()
    click.echo(f"user {user.email} {'deactivated' if changed else 'was already deactivated'}")


def _all_users(actor: Actor) -> list[User]:
    users: list[User] = []
    while page := list_users(db.session, actor, after_id=users[-1].id if users else 0, limit=_PAGE):
        users += page
    return users


@contextmanager
def _refusals_explained() -> Iterator[None]:
    """Turns a service's refusal into a command error naming what to fix."""
    try:
        yield
    except CatalogRefusal as refusal:
        details = "".join(f"\n  {e['pointer']}: {e['message']}" for e in refusal.errors)
        raise click.ClickException(refusal.message + details) from refusal

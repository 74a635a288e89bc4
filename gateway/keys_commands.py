"""``gatehouse keys``: the keys that encrypt what the gateway stores, and those it signs with.

``re-encrypt`` is the step of an encryption-key rotation that lets the old key go
(``gateway.key_rotation``); ``list``, ``new`` and ``retire`` replace the signing keys
(``gateway.signing_keys``). docs/operators.md gives the whole procedure."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from gateway.config import config_of
from gateway.db import db
from gateway.key_rotation import re_encrypt
from gateway.signing_keys import (
    KINDS,
    TOKEN,
    RetirementRefused,
    new_signing_key,
    retire_token_keys,
    stored_keys,
)
from gateway.vault import vault_of

keys_group = AppGroup(
    "keys", help="The keys that encrypt what the gateway stores, and those it signs with."
)


@keys_group.command("re-encrypt")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def keys_re_encrypt(as_json: bool) -> None:
    """Re-encrypt every stored secret with the first of GATEHOUSE_ENCRYPTION_KEYS.

    Run it once the new key is first in the list on every instance; afterwards the keys
    after it can be removed. If a value is one no listed key decrypts, nothing is
    changed and the command exits 1, naming it.
    """
    report = re_encrypt(db.session, vault_of(current_app))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif report.complete:
        moved = ", ".join(f"{count} {kind}" for kind, count in report.moved.items())
        click.echo(f"Re-encrypted with the first key: {moved}.")
        click.echo("The other keys of GATEHOUSE_ENCRYPTION_KEYS no longer protect anything.")
    else:
        for kind, names in report.undecryptable.items():
            for name in names:
                click.echo(f"{kind}: {name}: no listed key decrypts it", err=True)
        click.echo("Nothing was re-encrypted: put the missing key back in the list.", err=True)
    if not report.complete:
        raise SystemExit(1)


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="The keys as JSON.")
def keys_list(as_json: bool) -> None:
    """The signing keys: the newest of each kind signs, the others only verify."""
    keys = stored_keys(db.session)
    if as_json:
        click.echo(json.dumps([key.as_dict() for key in keys], indent=2))
        return
    for key in keys:
        role = "signs" if key.signs else "verifies"
        made = key.created_at.isoformat(timespec="seconds")
        click.echo(f"{key.kind:<6} {key.key_id:<18} {made}  {role}")


@keys_group.command("new")
@click.argument("kind", type=click.Choice(KINDS))
def keys_new(kind: str) -> None:
    """Make a new signing key of KIND (token or audit); it signs from now on.

    Every instance switches to it within a second; the older keys go on verifying what
    they signed. Old token keys can then be retired (`gatehouse keys retire token`);
    audit keys stay, as the checkpoints and manifests they signed are checked with them.
    """
    key = new_signing_key(db.session, vault_of(current_app), kind)
    click.echo(f"New {kind} signing key {key.key_id}: it signs from now on.")


@keys_group.command("retire")
@click.argument("kind", type=click.Choice([TOKEN]))
@click.option(
    "--now",
    "at_once",
    is_flag=True,
    help="Retire them even though tokens they signed are still valid (a key leaked).",
)
def keys_retire(kind: str, at_once: bool) -> None:
    """Delete every token signing key but the newest; tokens they signed are refused.

    Refused (exit 1) while such a token may still be valid, unless --now.
    """
    ttl = config_of(current_app).token_ttl_seconds
    try:
        retired = retire_token_keys(db.session, ttl, at_once)
    except RetirementRefused as refusal:
        click.echo(f"Nothing was retired: {refusal}.", err=True)
        raise SystemExit(1) from None
    if retired:
        click.echo(f"Retired {len(retired)} {kind} signing key(s): {', '.join(retired)}.")
    else:
        click.echo(f"Only one {kind} signing key is stored: nothing to retire.")

"""``gatehouse keys re-encrypt``: the step of an encryption-key rotation that lets the old
key go (see ``gateway.key_rotation`` and docs/operators.md)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from gateway.db import db
from gateway.key_rotation import re_encrypt
from gateway.vault import vault_of

keys_group = AppGroup("keys", help="The keys that encrypt what the gateway stores.")


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

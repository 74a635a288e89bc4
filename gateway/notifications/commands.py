"""``gatehouse notices``: deliver the notices that are due, for cron or an operator.

The gateway delivers notices itself after each commit; this command catches up on
those it could not (the gateway was stopped, a retry fell due while it was idle).
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from gateway.config import config_of
from gateway.db import db
from gateway.notifications.delivery import deliver_due

notices_group = AppGroup("notices", help="Notices of new requests, questions and decisions.")


@notices_group.command("deliver")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def notices_deliver(as_json: bool) -> None:
    """Deliver every notice that is due; exit 1 if any failed (they are tried again later)."""
    report = deliver_due(db.of(current_app).sessions, config_of(current_app).notifications)
    if as_json:
        click.echo(json.dumps({"sent": report.sent, "failed": report.failed}))
    else:
        click.echo(f"{report.sent} sent, {report.failed} failed")
    if report.failed:
        raise SystemExit(1)

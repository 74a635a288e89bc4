"""``gatehouse history export``: the history of changes for an auditor or a spreadsheet."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from catalog.history import HistoryFilter, all_changes
from catalog.history_export import FORMATS, export_lines
from gateway.audit_commands import duration
from gateway.db import db, utcnow

history_group = AppGroup("history", help="The history of changes to the catalog and more.")


@history_group.command("export")
@click.option("--since", help="Only the last 30m, 12h, 7d, ... (default: everything).")
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="jsonl")
@click.option("--object-type", help="tool, grant, app, api_key, user, department, ...")
@click.option("--object-id", help="A tool's slug, an app's id, ...")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write.")
def history_export(since, file_format, object_type, object_id, output) -> None:
    """Write every matching change, oldest first, as JSON Lines or CSV (never a secret)."""
    where = HistoryFilter(
        object_type=object_type,
        object_id=object_id,
        since=utcnow() - duration(since, "--since") if since else None,
    )
    for line in export_lines(all_changes(db.session, where), file_format):
        output.write(line)

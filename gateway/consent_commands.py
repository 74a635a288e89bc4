"""``gatehouse consent import FILE``: bulk-load consent records, resumably.

Rows are committed in batches together with how far the file got (keyed by the file's
SHA-256), so an import that stops is continued by running the same command again,
and no row is recorded twice. Bad rows are reported with their line numbers and
skipped; the import goes on.
"""

from __future__ import annotations

import hashlib
from itertools import islice
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from gateway.config import config_of
from gateway.db import db
from policies.consent import ConsentImport, record_consents
from policies.consent_import import parse_row, read_rows

consent_group = AppGroup("consent", help="The consent registry.")


@consent_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: from the file name (.jsonl or .csv).",
)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 50_000))
def consent_import(file: Path, file_format: str | None, batch_size: int) -> None:
    """Import consent events from a CSV or JSON-lines FILE.

    Columns: one of email, phone, external_id; purpose; status (granted|withdrawn);
    source; occurred_at (ISO 8601 with zone); optional expires_at, lawful_basis, evidence.
    """
    jsonl = (file_format or ("jsonl" if file.suffix in (".jsonl", ".ndjson") else "csv")) == "jsonl"
    digest, total = _fingerprint(file)
    progress = db.session.get(ConsentImport, digest) or ConsentImport(source_sha256=digest)
    db.session.add(progress)
    skip = progress.lines_done or 0
    if skip:
        click.echo(f"resuming after line {skip}", err=True)
    pepper = config_of(current_app).pepper
    recorded = bad = 0
    with (
        file.open(newline="") as stream,
        click.progressbar(
            length=total, label="importing", file=click.get_text_stream("stderr")
        ) as bar,
    ):
        bar.update(skip)
        rows = ((n, row, problem) for n, row, problem in read_rows(stream, jsonl) if n > skip)
        while batch := list(islice(rows, batch_size)):
            consents = []
            for line, row, problem in batch:
                try:
                    if problem:
                        raise ValueError(problem)
                    consents.append(parse_row(row, pepper))
                except ValueError as exc:
                    bad += 1
                    click.echo(f"\n{file.name}:{line}: {exc}", err=True)
            record_consents(db.session, consents)
            progress.lines_done = batch[-1][0]
            db.session.commit()
            recorded += len(consents)
            bar.update(batch[-1][0] - bar.pos)
    click.echo(f"recorded {recorded} consent events; {bad} bad rows skipped")
    if bad:
        raise SystemExit(1)


def _fingerprint(file: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines."""
    digest, lines = hashlib.sha256(), 0
    with file.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines

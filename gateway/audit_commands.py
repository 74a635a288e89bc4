"""``gatehouse audit ...``: verify, checkpoint, search, export and report on the exchange log.

Each query and report an auditor runs here is recorded in the auditors' trail under
the operating-system user (``cli:<user>``), as the API records its clients.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from functools import wraps
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from gateway.audit.checkpoints import (
    Checkpoint,
    create_checkpoint,
    latest_checkpoint,
    untrusted_because,
)
from gateway.audit.export import FORMATS, record_as_dict, unknown_outcome_cutoff
from gateway.audit.manifest import ExportDigest, ExportManifest, file_sha256
from gateway.audit.models import ExchangeRecord
from gateway.audit.person import person_report
from gateway.audit.processing import processing_record
from gateway.audit.queries import cli_actor, recent_queries, record_query
from gateway.audit.retention import latest_anchor, prune
from gateway.audit.search import (
    FILTER_NAMES,
    ExchangeFilter,
    FilterError,
    iter_matching,
    person_key,
)
from gateway.audit.signing import known_public_key
from gateway.audit.verify import verify
from gateway.audit.withdrawals import check_withdrawals
from gateway.config import config_of
from gateway.db import db, utcnow
from gateway.vault import vault_of
from policies.consent_import import IDENTIFIER_KINDS

audit_group = AppGroup("audit", help="The exchange log: verify, search, export, report.")

_FILTER_HELP = {
    "since": "From this ISO 8601 date or time (UTC unless zoned).",
    "until": "Up to this date (its whole day) or time.",
    "tool": "Tool slug.",
    "department": "Department slug.",
    "client": "Client id of the app.",
    "decision": "allow, redact or deny.",
    "rule": "A rule that objected, e.g. consent.",
    "purpose": "A fideslang data use (and those below it).",
    "category": "A fideslang data category (and those below it).",
    "email": "The person, by e-mail (hashed here; never stored).",
    "phone": "The person, by phone number (E.164).",
    "external_id": "The person, by the id your systems give them.",
}


def filter_options(command):
    """The search filters as options; the command receives ``where`` (an ExchangeFilter)."""

    @wraps(command)
    def with_filter(**options):
        names = (*FILTER_NAMES, *IDENTIFIER_KINDS)
        given = {name: options.pop(name) for name in names}
        try:
            options["where"] = ExchangeFilter.from_params(given, _pepper())
        except FilterError as exc:
            raise click.UsageError(str(exc)) from exc
        return command(**options)

    for name in reversed((*FILTER_NAMES, *IDENTIFIER_KINDS)):
        option = "--" + name.replace("_", "-")
        with_filter = click.option(option, name, default=None, help=_FILTER_HELP[name])(with_filter)
    return with_filter


@audit_group.command("search")
@filter_options
@click.option("--limit", type=click.IntRange(1), help="At most this many records.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one record a line.")
def audit_search(where: ExchangeFilter, limit: int | None, as_json: bool) -> None:
    """Print the exchange records that match the filters, in sequence order."""
    cutoff = unknown_outcome_cutoff(config_of(current_app))
    shown = 0
    for record in iter_matching(db.session, where):
        if limit is not None and shown >= limit:
            break
        row = record_as_dict(record, cutoff)
        click.echo(json.dumps(row) if as_json else _one_line(row))
        shown += 1
    record_query(db.session, cli_actor(), "search", where.described(), shown)
    db.session.commit()


def _one_line(row: dict) -> str:
    return (
        f"{row['seq']:>8} {row['started_at']} {row['decision']:<6} {row['status'] or '-':>3} "
        f"{row['method']:<6} {row['path']} client={row['client_id']} outcome={row['outcome']}"
    )


@audit_group.command("export")
@filter_options
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="jsonl")
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format jsonl.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File.")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the signed manifest (default: OUTPUT.manifest.json).",
)
def audit_export(
    where: ExchangeFilter,
    file_format: str,
    as_json: bool,
    output: Path | None,
    manifest_path: Path | None,
) -> None:
    """Export the matching records as JSON lines or CSV, with a signed manifest.

    The manifest (count, first and last sequence number, SHA-256 of the file, filters)
    is signed with the gateway's audit key; check it with `audit verify-export`. A
    record still pending after the longest a vendor call may take shows as
    outcome_unknown: the gateway stopped while the call was in flight.
    """
    file_format = "jsonl" if as_json else file_format
    manifest_path = manifest_path or (output and output.with_name(output.name + ".manifest.json"))
    digest = ExportDigest(
        db.session, where, file_format, unknown_outcome_cutoff(config_of(current_app))
    )
    stream = output.open("wb") if output else sys.stdout.buffer
    try:
        for chunk in digest.chunks():
            stream.write(chunk)
    finally:
        if output:
            stream.close()
        else:
            stream.flush()
    manifest = digest.manifest(vault_of(current_app))
    query = record_query(
        db.session,
        cli_actor(),
        "export",
        {**where.described(), "format": file_format},
        digest.count,
    )
    query.manifest = manifest.to_json()
    db.session.commit()
    if manifest_path:
        manifest_path.write_text(manifest.to_json() + "\n")
        click.echo(f"exported {digest.count} records; manifest in {manifest_path}", err=True)


@audit_group.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Default: FILE.manifest.json.",
)
def audit_verify_export(file: Path, manifest_path: Path | None) -> None:
    """Check an exported FILE against its signed manifest; exit status 1 if it does not match."""
    manifest_path = manifest_path or file.with_name(file.name + ".manifest.json")
    if not manifest_path.exists():
        raise click.UsageError(f"no manifest {manifest_path}; give --manifest")
    try:
        manifest = ExportManifest.from_json(manifest_path.read_text())
    except ValueError as exc:
        raise click.ClickException(f"{manifest_path}: {exc}") from exc
    problems = []
    if not manifest.signature_valid():
        problems.append("the manifest's signature is invalid: the manifest was altered")
    if known_public_key(db.session, manifest.key_id) != manifest.public_key:
        problems.append(f"the manifest was signed with key {manifest.key_id}, not this gateway's")
    if file_sha256(file) != manifest.sha256:
        problems.append("the file's SHA-256 differs from the manifest's: the file was altered")
    for problem in problems:
        click.echo(f"  {problem}")
    if problems:
        raise SystemExit(1)
    click.echo(
        f"ok: {manifest.count} records (seq {manifest.first_seq}..{manifest.last_seq}), "
        f"signed by key {manifest.key_id} at {manifest.created_at}"
    )


@audit_group.command("person")
@click.option("--email", help="The person's e-mail address.")
@click.option("--phone", help="The person's phone number (E.164).")
@click.option("--external-id", "external_id", help="The id your systems give the person.")
@click.option("--json", "as_json", is_flag=True)
def audit_person(email: str | None, phone: str | None, external_id: str | None, as_json: bool):
    """Which tools received this person's data, when, what, why and under which consent
    (GDPR Art. 15(1)(c))."""
    given = {"email": email, "phone": phone, "external_id": external_id}
    try:
        key = person_key(given, _pepper())
    except FilterError as exc:
        raise click.UsageError(str(exc)) from exc
    if key is None:
        raise click.UsageError("give one of --email, --phone, --external-id")
    report = person_report(db.session, key)
    record_query(
        db.session, cli_actor(), "person_report", {"subject_key": key}, len(report.exchanges)
    )
    db.session.commit()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(f"subject {key}: named in {len(report.exchanges)} exchanges")
    for recipient in report.recipients:
        item = recipient.as_dict()
        click.echo(
            f"  {item['tool']} ({item['country'] or '?'}, {item['transfer_basis'] or '-'}): "
            f"{item['exchanges']} exchanges {item['first_at']} .. {item['last_at']}; "
            f"categories {', '.join(item['data_categories']) or '-'}; "
            f"purposes {', '.join(item['purposes']) or '-'}; "
            f"consent events {item['consent_event_ids'] or '-'}"
        )


@audit_group.command("processing")
@click.option("--since", default="365d", show_default=True, help="Traffic since: 30d, 12h.")
@click.option("--json", "as_json", is_flag=True)
def audit_processing(since: str, as_json: bool) -> None:
    """The record of processing activities (GDPR Art. 30): per tool, what the catalog
    declares beside the traffic the log saw."""
    start = utcnow() - duration(since, "--since")
    activities = processing_record(db.session, start)
    record_query(
        db.session, cli_actor(), "processing_record", {"since": start.isoformat()}, len(activities)
    )
    db.session.commit()
    if as_json:
        click.echo(json.dumps([a.as_dict() for a in activities], indent=2))
        return
    for activity in activities:
        item = activity.as_dict()
        click.echo(f"{item['tool']}: {item['name']} [{item['status']}]")
        click.echo(
            f"  country {item['country'] or '?'}, transfer basis {item['transfer_basis'] or '-'}, "
            f"retention {item['retention'] or 'not recorded'}"
        )
        click.echo(f"  declared purposes: {', '.join(item['purposes']) or '-'}")
        click.echo(f"  declared categories: {', '.join(item['data_categories']) or '-'}")
        seen = item["seen"]
        click.echo(
            f"  seen: {seen['exchanges']} exchanges, {seen['people']} people; "
            f"categories {', '.join(seen['data_categories']) or '-'}"
        )
        for kind, values in item["undeclared"].items():
            if values:
                click.echo(f"  UNDECLARED {kind}: {', '.join(values)}")


@audit_group.command("withdrawals")
@click.option("--since", help="Only exchanges since: 30d, 12h (default: the whole log).")
@click.option("--json", "as_json", is_flag=True)
def audit_withdrawals(since: str | None, as_json: bool) -> None:
    """Exchanges that sent a person's data after they withdrew consent for that purpose.

    Must be none; exit status 1 if there are any.
    """
    start = utcnow() - duration(since, "--since") if since else None
    check = check_withdrawals(db.session, start)
    parameters = {"since": start and start.isoformat()}
    record_query(db.session, cli_actor(), "withdrawal_check", parameters, len(check.violations))
    db.session.commit()
    if as_json:
        click.echo(json.dumps(check.as_dict(), indent=2))
    else:
        click.echo(
            f"checked {check.exchanges_checked} exchanges of {check.people_with_withdrawals} "
            f"people who withdrew consent: {len(check.violations)} sent after a withdrawal"
        )
        for v in check.violations:
            click.echo(
                f"  seq {v.seq} {v.at.isoformat()} tool {v.tool} purpose {v.purpose}: "
                f"withdrawn {v.withdrawn_at.isoformat()} (event {v.withdrawal_event_id}, "
                f"recorded {v.withdrawal_recorded_at.isoformat()})"
            )
    if not check.ok:
        raise SystemExit(1)


@audit_group.command("queries")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
def audit_queries(limit: int, as_json: bool) -> None:
    """The auditors' trail: who searched, exported or reported on the log, newest first."""
    for query in recent_queries(db.session, limit):
        row = query.as_dict()
        click.echo(
            json.dumps(row)
            if as_json
            else f"{row['at']} {row['actor']} {row['kind']} {json.dumps(row['parameters'])} "
            f"-> {row['result_count']}"
        )


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.File("r"),
    help="A checkpoint exported earlier (default: the latest one the gateway kept).",
)
def audit_verify(checkpoint_file) -> None:
    """Check both hash chains of the exchange log, and its tail against a signed checkpoint.

    Exit status 1 when any record is altered, missing, out of order or cut off.
    """
    try:
        checkpoint = (
            Checkpoint.from_json(checkpoint_file.read())
            if checkpoint_file
            else latest_checkpoint(db.session)
        )
    except ValueError as exc:
        raise click.ClickException(f"{checkpoint_file.name}: {exc}") from exc
    anchor = latest_anchor(db.session)
    for signed in (checkpoint, anchor):
        if signed is not None:
            _check_checkpoint(signed)
    total = db.session.scalar(select(func.count()).select_from(ExchangeRecord))
    with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
        report = verify(
            db.session, checkpoint, lambda done: bar.update(done - bar.pos), anchor=anchor
        )
    record_query(
        db.session, cli_actor(), "verify", report.trail_entry(None, checkpoint), report.records
    )
    db.session.commit()
    click.echo(
        f"Results: {report.records} records, {report.valid_records} valid; "
        f"{report.outcomes} outcomes, {report.valid_outcomes} valid; "
        f"{len(report.findings)} problems"
        + (
            f"; tail checked against the checkpoint of {checkpoint.created_at}"
            if checkpoint
            else "; no checkpoint, so a cut-off tail cannot be detected"
        )
    )
    for finding in report.findings:
        click.echo(f"  {finding.kind:<13} seq {finding.seq}: {finding.detail}")
    if not report.ok:
        raise SystemExit(1)


def _check_checkpoint(checkpoint: Checkpoint) -> None:
    if problem := untrusted_because(db.session, checkpoint):
        raise click.ClickException(problem)


@audit_group.command("checkpoint")
@click.option("--output", "-o", type=click.File("w"), default="-", help="Where to write it.")
def audit_checkpoint(output) -> None:
    """Sign the current heads of the log; keep the output somewhere the gateway cannot write."""
    checkpoint = create_checkpoint(db.session, vault_of(current_app))
    db.session.commit()
    output.write(checkpoint.to_json() + "\n")


@audit_group.command("prune")
@click.option(
    "--older-than",
    help="Remove records older than this: 400d (default: GATEHOUSE_AUDIT_RETENTION_DAYS).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def audit_prune(older_than: str | None, yes: bool) -> None:
    """Remove exchange records past the retention period; the rest still verifies.

    The cut is signed first (a retention anchor), and `audit verify` starts from it.
    """
    retention_days = config_of(current_app).audit_retention_days
    if older_than is None and retention_days is None:
        raise click.UsageError("give --older-than, or set GATEHOUSE_AUDIT_RETENTION_DAYS")
    span = duration(older_than, "--older-than") if older_than else timedelta(days=retention_days)
    cutoff = utcnow() - span
    if not yes:
        click.confirm(
            f"Remove exchange records that started before {cutoff:%Y-%m-%d %H:%M} UTC?", abort=True
        )
    anchor = prune(db.session, vault_of(current_app), cutoff)
    deleted = anchor.records_deleted if anchor else 0
    record_query(db.session, cli_actor(), "prune", {"older_than": cutoff.isoformat()}, deleted)
    db.session.commit()
    if anchor is None:
        click.echo("nothing to prune")
        return
    cut = Checkpoint.from_json(anchor.document)
    click.echo(
        f"pruned {deleted} records (through seq {cut.seq}, outcome {cut.outcome_seq}); "
        f"the log verifies from the signed anchor of {cut.created_at}"
    )


def duration(text: str, option: str) -> timedelta:
    """``30m``, ``12h`` or ``7d`` as a time span."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise click.BadParameter("use a number and m, h or d, e.g. 7d", param_hint=option)
    return timedelta(**{units[text[-1]]: int(text[:-1])})


def _pepper() -> bytes:
    return config_of(current_app).pepper

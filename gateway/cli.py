"""The ``gatehouse`` command: serve, migrate, apply the catalog, register apps, export the log.

Each command runs inside an app context, opens the request-style session, and
commits once at the end; services below never commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from flask import current_app
from flask.cli import AppGroup, ScriptInfo

from catalog.declarative import CatalogError, apply_document, export_document
from catalog.errors import CatalogRefusal
from connectors.describe import describe_spec
from connectors.openapi import OpenAPIError, draft_spec
from connectors.registry import SpecError, load_spec_file, spec_files
from gateway.app import create_app
from gateway.audit_commands import audit_group, duration
from gateway.config import Config, ConfigError, connector_folders_from_env
from gateway.consent_commands import consent_group
from gateway.db import db, utcnow
from gateway.demo import run_demo
from gateway.history_commands import history_group
from gateway.identity.actors import Actor
from gateway.keys_commands import keys_group
from gateway.migrate import upgrade
from gateway.notifications.commands import notices_group
from gateway.oauth.apps import register_app
from gateway.oauth.clients import KNOWN_SCOPES
from gateway.policy_simulation import simulate
from gateway.server import serve_with_gunicorn
from gateway.shadow_it_commands import shadow_it_group
from gateway.snapshots import snapshots_of
from gateway.usage_commands import report_group
from gateway.users_commands import users_group
from gateway.vault import vault_of
from policies.policy import PolicyError, load_policy


def _create_app_or_explain():
    try:  # no bound on statements: migrating, verifying or pruning may take long
        return create_app(Config.from_env().with_overrides(limit_statements=False))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(cls=AppGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Gatehouse: the IT-run gateway between marketing apps and SaaS tools.

    Configuration comes from GATEHOUSE_* environment variables (see README).
    """
    ctx.obj = ScriptInfo(
        create_app=_create_app_or_explain, set_debug_flag=False, load_dotenv_defaults=False
    )


cli.add_command(consent_group)
cli.add_command(audit_group)
cli.add_command(history_group)
cli.add_command(notices_group)
cli.add_command(users_group)
cli.add_command(shadow_it_group)
cli.add_command(report_group)
cli.add_command(keys_group)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Worker processes.")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the gateway with gunicorn."""
    serve_with_gunicorn(host, port, workers, threads)


@cli.group("db", cls=AppGroup)
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema (or REVISION)."""
    upgrade(db.of(current_app).engine, revision)
    click.echo(f"database at {revision}")


@cli.command("apply")
@click.argument("file", type=click.File("r"))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--dry-run", is_flag=True, help="Say what would change, and change nothing.")
def apply_command(file, as_json: bool, dry_run: bool) -> None:
    """Create or update departments, tools, grants and clients from a YAML FILE ('-' for stdin).

    Applying the same file twice changes nothing; nothing absent from it is deleted.
    New clients' secrets are printed once. With --dry-run the file is checked and applied
    in a transaction that is then rolled back: the report says what would change.
    """
    try:
        document = yaml.safe_load(file)
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{file.name} is not valid YAML: {exc}") from exc
    try:
        config = current_app.extensions["gatehouse.config"]
        report = apply_document(
            db.session, document, vault_of(current_app), spec_folders=config.connector_folders
        )
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:  # nothing of it stays: no new client has an id or a secret
        db.session.rollback()
    else:
        db.session.commit()
    new_clients = [] if dry_run else report.new_clients
    if as_json:
        clients = [vars(client) for client in new_clients]
        click.echo(
            json.dumps(
                {"dry_run": dry_run, "changes": report.changes, "new_clients": clients}, indent=2
            )
        )
        return
    if dry_run:
        click.echo("Dry run: nothing was changed. Applying the file would make these changes:")
    for change in report.changes or ["no changes"]:
        click.echo(change)
    for client in new_clients:
        click.echo(f"\nclient {client.name}: id {client.client_id} secret {client.client_secret}")
        click.echo("  (the secret is shown only now; it is stored hashed)")


@cli.command("export")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write.")
def export_command(output) -> None:
    """Write the catalog as YAML in the format `apply` reads (never any secret)."""
    yaml.safe_dump(export_document(db.session), output, sort_keys=False)


@cli.group("clients", cls=AppGroup)
def clients_group() -> None:
    """Apps that call tools through the proxy."""


@clients_group.command("create")
@click.option("--name", required=True, help="A unique name for the app.")
@click.option("--department", required=True, help="Slug of the department that owns it.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=["proxy"],
    show_default=True,
    type=click.Choice(sorted(KNOWN_SCOPES)),
)
@click.option("--json", "as_json", is_flag=True)
def clients_create(name: str, department: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Register an app and print its client id and secret (shown only once)."""
    try:
        client, secret = register_app(
            db.session,
            Actor.for_operator("clients create"),
            "clients create",
            name,
            department,
            scopes=scopes,
        )
    except CatalogRefusal as exc:
        raise click.ClickException(_refusal_text(exc)) from exc
    db.session.commit()
    if as_json:
        click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))
    else:
        click.echo(f"client_id:     {client.client_id}\nclient_secret: {secret}")
        click.echo("The secret is shown only now; it is stored hashed.")


def _refusal_text(refusal: CatalogRefusal) -> str:
    """A service's refusal on one line: what is wrong, then each field and why."""
    fields = [f"{error['pointer'].lstrip('/')}: {error['message']}" for error in refusal.errors]
    return "; ".join([refusal.message, *fields])


@cli.command("demo")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--sandbox-port", default=9001, show_default=True, type=int)
def demo(port: int, sandbox_port: int) -> None:
    """Migrate, seed the demo catalog and serve it beside a sandbox vendor.

    Runs only in demo mode (GATEHOUSE_DEMO=1), as `make run` sets.
    """
    if not current_app.extensions["gatehouse.config"].demo:
        raise click.ClickException("the demo runs only with GATEHOUSE_DEMO=1 (as `make run` sets)")
    run_demo(Path(current_app.instance_path), port, sandbox_port)


@cli.group("connectors", cls=AppGroup)
def connectors_group() -> None:
    """Connector specs: the vendor APIs the proxy knows (GATEHOUSE_CONNECTORS_PATH adds folders)."""


@connectors_group.command("list", with_appcontext=False)
@click.option("--json", "as_json", is_flag=True)
def connectors_list(as_json: bool) -> None:
    """List connectors and their operations."""
    specs, failures = _load_all_specs()
    if as_json:
        click.echo(json.dumps([describe_spec(spec) for spec in specs], indent=2))
    for spec in [] if as_json else specs:
        click.echo(f"{spec.vendor}: {spec.name} ({spec.base_url})")
        for operation in spec.operations:
            flags = [flag for flag in ("erases", "unsubscribes") if getattr(operation, flag)]
            click.echo(
                f"  {operation.method:<6} {operation.path}  {operation.id} "
                f"[{operation.default_purpose}]{' ' + ','.join(flags) if flags else ''}"
            )
    _report_failures(failures)


@connectors_group.command("validate", with_appcontext=False)
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def connectors_validate(files: tuple[Path, ...]) -> None:
    """Check connector spec FILES (default: every configured spec) against the meta-schema
    and the fideslang vocabulary; exit status 1 if any is wrong."""
    paths = list(files) or list(spec_files(connector_folders_from_env()).values())
    failures = []
    for path in paths:
        try:
            spec = load_spec_file(path)
        except SpecError as exc:
            failures.append(str(exc))
            continue
        click.echo(f"ok {path.name}: {len(spec.operations)} operations")
    _report_failures(failures)


@connectors_group.command("import-openapi", with_appcontext=False)
@click.argument("file", type=click.File("r"))
@click.option("--vendor", required=True, help="Slug of the new connector (its file name).")
@click.option("--output", "-o", type=click.File("w"), default="-", help="Where to write the draft.")
def connectors_import_openapi(file, vendor: str, output) -> None:
    """Draft a connector spec from a vendor's OpenAPI 3 document (YAML or JSON).

    Fill in each operation's default_purpose and the data category of each listed
    field (delete the fields that carry no personal data); then `connectors validate`.
    """
    try:
        draft = draft_spec(yaml.safe_load(file), vendor)
    except (OpenAPIError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{file.name}: {exc}") from exc
    output.write(
        f"# Drafted from {file.name} by `gatehouse connectors import-openapi`.\n"
        "# To do before use: set each default_purpose (a fideslang data use), give each\n"
        "# data_categories entry a fideslang category or delete it, add subjects.\n"
    )
    yaml.safe_dump(draft, output, sort_keys=False, allow_unicode=True)


def _load_all_specs() -> tuple[list, list[str]]:
    specs, failures = [], []
    for path in spec_files(connector_folders_from_env()).values():
        try:
            specs.append(load_spec_file(path))
        except SpecError as exc:
            failures.append(str(exc))
    return specs, failures


def _report_failures(failures: list[str]) -> None:
    for failure in failures:
        click.echo(failure, err=True)
    if failures:
        raise SystemExit(1)


@cli.group("policy", cls=AppGroup)
def policy_group() -> None:
    """The data-protection policy (policies/policy.yaml, or GATEHOUSE_POLICY_FILE)."""


@policy_group.command("simulate")
@click.option("--since", default="7d", show_default=True, help="How far back: 30m, 12h, 7d.")
@click.option(
    "--policy",
    "candidate_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The candidate policy file (default: the one in force, which changes nothing).",
)
@click.option("--json", "as_json", is_flag=True)
def policy_simulate(since: str, candidate_path: Path | None, as_json: bool) -> None:
    """Replay recorded exchanges under a candidate policy and report what would change."""
    snapshots = snapshots_of(current_app)
    current = snapshots.get("policy")
    try:
        candidate = load_policy(candidate_path) if candidate_path else current
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from exc
    start = utcnow() - duration(since, "--since")
    result = simulate(db.session, start, current, candidate, snapshots.get("catalog"))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "since": start.isoformat(),
                    "replayed": result.replayed,
                    "skipped": result.skipped,
                    "changes": [vars(change) for change in result.changes],
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"replayed {result.replayed} exchanges since {start:%Y-%m-%d %H:%M} UTC "
        f"({result.skipped} skipped: tool no longer in the catalog); "
        f"{len(result.changes)} would change"
    )
    for (shift, rule), count in sorted(result.by_rule().items()):
        click.echo(f"  {count:>6}  {shift:<18} rule {rule}")
    for (shift, tool), count in sorted(result.by_tool().items()):
        click.echo(f"  {count:>6}  {shift:<18} tool {tool}")

"""The `gatehouse` command as an operator runs it: a real process, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner

from gateway.cli import cli
from gateway.config import generate_secrets
from tests.conftest import AppCredentials, demo_document, get_token

GATEHOUSE = str(Path(sys.executable).with_name("gatehouse"))


@pytest.fixture
def run(cli):
    def run(*args: str, stdin: str | None = None, check: bool = True):
        result = cli(*args, stdin=stdin)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run


def catalog_file(tmp_path, sandbox_url="http://127.0.0.1:9001") -> str:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(demo_document(sandbox_url)))
    return str(path)


def test_every_command_has_help(run):
    assert "Usage: gatehouse" in run("--help").stdout
    runner = CliRunner()
    for command in (
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["apply"],
        ["export"],
        ["clients"],
        ["clients", "create"],
        ["audit"],
        ["audit", "export"],
        ["demo"],
        ["notices"],
        ["notices", "deliver"],
    ):
        result = runner.invoke(cli, [*command, "--help"], prog_name="gatehouse")
        assert result.exit_code == 0, result.output
        assert "Usage: gatehouse" in result.output


def test_apply_twice_then_export(run, tmp_path):
    path = catalog_file(tmp_path)
    first = run("apply", path)
    assert "created tool mailchimp" in first.stdout
    assert "client newsletter-app: id gh_" in first.stdout
    assert run("apply", path).stdout.strip() == "no changes"
    exported = yaml.safe_load(run("export").stdout)
    assert [tool["slug"] for tool in exported["tools"]] == ["mailchimp"]
    assert "cli-key-us21" not in json.dumps(exported)


def test_apply_dry_run_says_what_would_change_and_changes_nothing(run, tmp_path):
    path = catalog_file(tmp_path)
    dry = run("apply", "--dry-run", path)
    assert "Dry run: nothing was changed" in dry.stdout
    assert "created tool mailchimp" in dry.stdout
    assert "secret" not in dry.stdout  # no client was made, so none has a secret
    assert yaml.safe_load(run("export").stdout).get("tools", []) == []
    report = json.loads(run("apply", "--dry-run", "--json", path).stdout)
    assert report["dry_run"] is True and report["new_clients"] == []
    assert "created tool mailchimp" in report["changes"]
    assert "created tool mailchimp" in run("apply", path).stdout
    assert run("apply", "--dry-run", path).stdout.splitlines()[1:] == ["no changes"]


def test_apply_reports_invalid_file_and_exits_nonzero(run, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("tools:\n  - slug: Bad Slug\n")
    result = run("apply", str(path), check=False)
    assert result.returncode == 1
    assert "/tools/0/slug" in result.stderr
    assert "Traceback" not in result.stderr


def test_clients_create_prints_working_credentials(run, tmp_path, gateway):
    run("apply", catalog_file(tmp_path))
    created = json.loads(
        run("clients", "create", "--name", "crm-sync", "--department", "growth", "--json").stdout
    )
    token = get_token(gateway, AppCredentials(**created))
    assert token.count(".") == 2
    duplicate = run(
        "clients", "create", "--name", "crm-sync", "--department", "growth", check=False
    )
    assert "exists already" in duplicate.stderr
    missing = run("clients", "create", "--name", "x", "--department", "nowhere", check=False)
    assert "no department 'nowhere'" in missing.stderr


def test_audit_export_prints_json_lines(run, tmp_path, gateway, sandbox):
    run("apply", catalog_file(tmp_path, sandbox))
    requests.get(f"{gateway}/proxy/mailchimp/ping", timeout=10)  # refused: no token
    lines = run("audit", "export", "--json").stdout.splitlines()
    [record] = [json.loads(line) for line in lines]
    assert record["status"] == 401
    assert record["decision"] == "deny"
    assert record["outcome"] == "completed"
    assert record["reasons"][0]["rule"] == "authentication"


def test_secrets_are_required_outside_demo_mode(run):
    env_without = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    result = subprocess.run(
        [GATEHOUSE, "export"], capture_output=True, text=True, env=env_without, timeout=60
    )
    assert result.returncode != 0
    assert "GATEHOUSE_SECRET_KEY" in result.stderr
    assert "no default outside demo mode" in result.stderr
    assert "Traceback" not in result.stderr
    assert set(generate_secrets()) == {"SECRET_KEY", "ENCRYPTION_KEYS", "SUBJECT_PEPPER"}

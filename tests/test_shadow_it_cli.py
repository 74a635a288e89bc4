"""`gatehouse shadow-it` as IT runs it: scan, re-scan, list, mark, export, unknown names,
and a one-line error with exit code 2 for every bad input."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil

import pytest

from gateway.db import db
from gateway.shadow_it_commands import shadow_it_group
from tests.shadow_it_catalog import SAMPLES, add_sample_tools


@pytest.fixture
def shadow_cli(app, cli_env, cli):
    with app.app_context():
        add_sample_tools(db.session)
        db.session.commit()
    cli_env["GATEHOUSE_EGRESS_ADDRESSES"] = "203.0.113.10"
    return cli


def test_scan_list_mark_and_export(shadow_cli, tmp_path):
    departments = str(SAMPLES / "departments.csv")
    scanned = shadow_cli(
        "shadow-it",
        "scan",
        str(SAMPLES / "squid_access.log"),
        "--departments",
        departments,
        "--unknown-threshold",
        "3",
        "--json",
    )
    assert scanned.returncode == 0, scanned.stderr
    assert scanned.stderr == ""  # no progress bar when stderr is not a terminal
    report = json.loads(scanned.stdout)
    assert report["new_findings"] == 4
    assert report["files"][0]["malformed"] == 2
    assert report["unknown"][0]["name"] == "unknownsaas.io"

    packed = tmp_path / "access.log.gz"
    with (SAMPLES / "squid_access.log").open("rb") as plain, gzip.open(packed, "wb") as out:
        shutil.copyfileobj(plain, out)
    again = shadow_cli("shadow-it", "scan", str(packed), "--departments", departments)
    assert again.returncode == 0, again.stderr
    assert "13 lines, 13 already scanned, 0 events" in again.stdout
    assert "0 findings (0 new)" in again.stdout

    listed = json.loads(shadow_cli("shadow-it", "findings", "--json").stdout)
    bypass = next(item for item in listed if item["state"] == "bypassing")
    assert (bypass["vendor"]["slug"], bypass["department"]) == ("mailchimp", "marketing")

    marked = shadow_cli("shadow-it", "mark", str(bypass["id"]), "ignored")
    assert marked.returncode == 0 and "is ignored" in marked.stdout
    ignored = json.loads(
        shadow_cli("shadow-it", "findings", "--status", "ignored", "--json").stdout
    )
    assert [item["id"] for item in ignored] == [bypass["id"]]

    exported = shadow_cli("shadow-it", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted((row["vendor"], row["department"], row["state"]) for row in rows) == [
        ("hotjar", "marketing", "not_in_catalog"),
        ("hotjar", "sales", "not_in_catalog"),
        ("hubspot", "sales", "suspended"),
        ("mailchimp", "marketing", "bypassing"),
    ]
    as_json = json.loads(shadow_cli("shadow-it", "export", "--state", "suspended").stdout)
    assert [item["vendor"]["slug"] for item in as_json] == ["hubspot"]

    [unknown] = json.loads(shadow_cli("shadow-it", "unknown", "--json").stdout)
    assert (unknown["name"], unknown["hits"], unknown["status"]) == ("unknownsaas.io", 3, "new")
    classified = shadow_cli("shadow-it", "classify", str(unknown["id"]), "known")
    assert classified.returncode == 0, classified.stderr
    assert (
        "unknownsaas.io  3 times, last 2026-11-02 (known)"
        in shadow_cli("shadow-it", "unknown").stdout
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--columns", "host"], "--columns: 'host' is not FIELD=COLUMN"),
        (["--columns", "hots=dest"], "--columns: unknown field 'hots'"),
        (["--format", "csv", "--columns", "host=nope"], "the file has no column 'nope' for host"),
        (["--since", "last tuesday"], "--since: 'last tuesday' is not an ISO 8601"),
        (["--departments", str(SAMPLES / "squid_access.log")], "expected CIDR: department pairs"),
    ],
)
def test_bad_inputs_are_one_line_errors(app, arguments, message):
    sample = str(SAMPLES / "firewall_export.csv")
    refused = app.test_cli_runner().invoke(shadow_it_group, ["scan", sample, *arguments])
    assert refused.exit_code == 2
    assert message in refused.output
    assert refused.output.count("\n") == 1


def test_a_file_of_no_known_format_is_refused(app, tmp_path):
    unknown = tmp_path / "notes.txt"
    unknown.write_text("dear diary\ntoday I used a SaaS tool\n")
    runner = app.test_cli_runner()
    refused = runner.invoke(shadow_it_group, ["scan", str(unknown)])
    assert refused.exit_code == 2
    assert "cannot tell the format from the first lines" in refused.output
    assert runner.invoke(shadow_it_group, ["mark", "999", "known"]).exit_code == 2
    assert runner.invoke(shadow_it_group, ["classify", "999", "known"]).exit_code == 2

"""`gatehouse history export` as an operator runs it, after `gatehouse apply`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import yaml

from catalog.history import ChangeEvent
from catalog.history_export import export_lines
from tests.conftest import demo_document


def test_history_export_after_apply(cli, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(demo_document("http://127.0.0.1:9001")))
    assert cli("apply", str(path)).returncode == 0

    exported = cli("history", "export", "--since", "1h")
    assert exported.returncode == 0, exported.stderr
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(e["object"]["type"], e["action"]) for e in events][:3] == [
        ("department", "created"),
        ("tool", "created"),
        ("tool", "credentials_stored"),
    ]
    assert {e["source"] for e in events} == {"apply"}
    assert "cli-key-us21" not in exported.stdout

    as_csv = cli("history", "export", "--format", "csv", "--object-type", "tool")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [row["action"] for row in rows] == ["created", "credentials_stored"]

    assert cli("history", "export", "--since", "soon").returncode == 2
    assert "Usage: gatehouse history export" in cli("history", "export", "--help").stdout


def test_csv_cells_a_spreadsheet_would_run_are_inert():
    event = ChangeEvent(
        id=1,
        occurred_at=datetime(2027, 1, 1, tzinfo=UTC),
        actor_kind="user",
        actor_id="1",
        actor_label='=HYPERLINK("http://evil")',
        object_type="tool",
        object_id="x",
        object_label="+1 tool",
        action="updated",
        before=None,
        after={"name": "-x"},
        source="portal",
    )
    [header, row] = list(csv.reader(export_lines([event], "csv")))
    cells = dict(zip(header, row, strict=True))
    assert cells["actor_label"] == '\'=HYPERLINK("http://evil")'
    assert cells["object_label"] == "'+1 tool"
    assert json.loads(cells["after"]) == {"name": "-x"}

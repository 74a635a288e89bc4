"""The exchange log resists tampering: each kind of damage is found, on both databases."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, text

from gateway.audit import chain as chain_module
from gateway.audit.chain import LATER_FIELDS, OUTCOME_FIELDS, RECORD_FIELDS, canonical
from gateway.audit.export import record_as_dict, unknown_outcome_after
from gateway.audit.links import record_values, rendered_records
from gateway.audit.models import ExchangeRecord, ExchangeSubject
from gateway.audit.verify import verify as audit_verify
from gateway.audit.writer import AuditWriter, Completion, NewRecord, audit_engine
from gateway.db import db, utcnow
from tests.conftest import GATEHOUSE, apply, get_token
from tests.ports import free_port
from tests.test_governance import MEMBERS, member, post
from tests.test_proxy import echo_document
from tests.test_readme import wait_until_serving


@pytest.fixture
def logged(app, gateway, sandbox, demo_token):
    """Six exchanges: allowed, refused, a ping, for Ada and Alan."""
    for email in ("ada@example.com", "bob@example.com", "alan@example.com"):
        post(gateway, demo_token, MEMBERS, member(email))
    for _ in range(3):
        requests.get(
            f"{gateway}/proxy/mailchimp/ping",
            headers={"Authorization": f"Bearer {demo_token}"},
            timeout=10,
        )
    return app


def tamper(app, *statements: str) -> None:
    """Change the log as someone with direct database access would (triggers bypassed)."""
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            connection.execute(text(statement))
        db.session.commit()


def swap(app, first: int, second: int) -> None:
    """Exchange all contents but the sequence numbers of two records."""
    columns = [c.key for c in ExchangeRecord.__table__.columns if c.key not in ("seq",)]
    with app.app_context():
        rows = {
            r.seq: {c: getattr(r, c) for c in columns}
            for r in db.session.scalars(
                select(ExchangeRecord).where(ExchangeRecord.seq.in_([first, second]))
            )
        }
    table = ExchangeRecord.__table__
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        # Free the unique values of the first row so that the second can take them.
        db.session.execute(
            table.update()
            .where(table.c.seq == first)
            .values(request_id=func.upper(table.c.request_id), outcome_seq=None)
        )
        for seq, other in ((second, first), (first, second)):
            db.session.execute(
                ExchangeRecord.__table__.update()
                .where(ExchangeRecord.seq == seq)
                .values(rows[other])
            )
        db.session.commit()


def verify(cli, *args) -> tuple[int, str]:
    result = cli("audit", "verify", *args)
    return result.returncode, result.stdout + result.stderr


def test_an_untouched_log_verifies(logged, cli):
    status, output = verify(cli)
    assert status == 0, output
    assert "Results: 6 records, 6 valid; 6 outcomes, 6 valid; 0 problems" in output


def test_one_byte_changed_is_found(logged, cli):
    tamper(logged, "UPDATE exchanges SET path = replace(path, 'members', 'memberz') WHERE seq = 2")
    status, output = verify(cli)
    assert status == 1
    assert "altered       seq 2:" in output
    assert "5 valid; 6 outcomes" in output


def test_an_altered_outcome_is_found(logged, cli):
    tamper(logged, "UPDATE exchanges SET status = 200 WHERE seq = 2")
    status, output = verify(cli)
    assert status == 1 and "its outcome no longer matches" in output


def test_a_deleted_row_is_found(logged, cli):
    tamper(
        logged,
        "DELETE FROM exchange_subjects WHERE exchange_seq = 3",
        "DELETE FROM exchanges WHERE seq = 3",
    )
    status, output = verify(cli)
    assert status == 1
    assert "missing       seq 3: records 3..3 are gone" in output


def test_a_value_stored_in_another_spelling_still_verifies(logged, cli):
    """verify hashes a rendering of each row's stored text (PostgreSQL's, or on SQLite its
    own); a row stored in a spelling the writer does not use (JSON with spaces, on SQLite
    a time with a T) renders otherwise, is checked the reference way, and holds."""
    respelled = ["UPDATE exchanges SET categories_stripped = ' [ ] ' WHERE seq IN (1, 4)"]
    with logged.app_context():
        sqlite = db.session.connection().dialect.name == "sqlite"
        stripped = db.session.scalars(
            select(ExchangeRecord.categories_stripped).where(ExchangeRecord.seq.in_([1, 4]))
        ).all()
    assert stripped == [[], []]
    if sqlite:
        respelled.append("UPDATE exchanges SET started_at = replace(started_at, ' ', 'T')")
    tamper(logged, *respelled)
    status, output = verify(cli)
    assert status == 0, output
    assert "Results: 6 records, 6 valid; 6 outcomes, 6 valid; 0 problems" in output
    tamper(logged, "UPDATE exchanges SET categories_stripped = '[\"x\"]' WHERE seq = 4")
    status, output = verify(cli)
    assert status == 1 and "altered       seq 4:" in output


def test_two_swapped_rows_are_found(logged, cli):
    swap(logged, 4, 5)
    status, output = verify(cli)
    assert status == 1
    assert "out_of_order  seq 4: records 4 and 5 have swapped contents" in output


def test_a_tail_cut_after_a_checkpoint_is_found(logged, cli, tmp_path):
    checkpoint = tmp_path / "checkpoint.json"
    assert cli("audit", "checkpoint", "-o", str(checkpoint)).returncode == 0
    saved = json.loads(checkpoint.read_text())
    assert (saved["seq"], saved["outcome_seq"]) == (6, 6) and saved["signature"]
    tamper(
        logged,
        "DELETE FROM exchange_subjects WHERE exchange_seq > 4",
        "DELETE FROM exchanges WHERE seq > 4",
    )
    assert verify(cli)[0] == 1  # the gateway's own copy of the checkpoint notices too
    status, output = verify(cli, "--checkpoint", str(checkpoint))
    assert status == 1
    assert "cut_off       seq 5: the log ends at record 4" in output


def test_a_forged_checkpoint_is_refused(logged, cli, tmp_path):
    path = tmp_path / "checkpoint.json"
    cli("audit", "checkpoint", "-o", str(path))
    forged = json.loads(path.read_text()) | {"seq": 99}
    path.write_text(json.dumps(forged))
    status, output = verify(cli, "--checkpoint", str(path))
    assert status == 1 and "signature is invalid" in output


def test_the_log_is_append_only_in_postgresql(logged):
    with logged.app_context():
        if db.session.connection().dialect.name != "postgresql":
            pytest.skip("enforced by a PostgreSQL trigger")
        assert_refused_as_append_only(
            "UPDATE exchanges SET path = 'x' WHERE seq = 1",
            "DELETE FROM exchanges WHERE seq = 1",
            "UPDATE exchange_subjects SET dropped = true",
        )


def assert_refused_as_append_only(*statements: str) -> None:
    """Each statement, run on its own in the app's session, is refused by a trigger."""
    for statement in statements:
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_a_crash_mid_call_leaves_an_outcome_unknown_record(app, upstream, cli, cli_env):
    """The gateway process is killed while the vendor is still answering."""
    client = apply(app, echo_document(upstream.url + "/api")).new_clients[0]
    port = free_port()
    server = subprocess.Popen(
        [GATEHOUSE, "serve", "--port", str(port), "--workers", "1"],
        env={**cli_env, "GATEHOUSE_UPSTREAM_READ_TIMEOUT": "30"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", server)
        token = get_token(f"http://127.0.0.1:{port}", client)
        call = threading.Thread(target=_slow_call, args=(port, token), daemon=True)
        call.start()
        deadline = time.monotonic() + 10
        while not upstream.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upstream.requests, "the call never reached the vendor"
        server.send_signal(signal.SIGKILL)
    finally:
        server.kill()
        server.wait(timeout=10)
    with app.app_context():
        record = db.session.scalars(
            select(ExchangeRecord).where(ExchangeRecord.tool == "echo")
        ).one()
        later = unknown_outcome_after(utcnow() + timedelta(minutes=5), 33)
        assert record_as_dict(record, later)["outcome"] == "outcome_unknown"
        assert record_as_dict(record, unknown_outcome_after(utcnow(), 33))["outcome"] == "pending"
    assert verify(cli)[0] == 0  # a pending record is part of the chain, not damage to it


def _slow_call(port: int, token: str) -> None:
    with contextlib.suppress(requests.RequestException):  # the server dies mid-call
        requests.get(
            f"http://127.0.0.1:{port}/proxy/echo/slow",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )


def test_ranges_checked_at_once_find_the_same(logged):
    """Ranges checked apart, at once, merged, say what one pass over the log says,
    also where a swap straddles two ranges."""
    swap(logged, 4, 5)  # across the ranges 3..4 and 5..6
    tamper(
        logged,
        "UPDATE exchanges SET status = 201 WHERE seq = 6",
        "DELETE FROM exchange_subjects WHERE exchange_seq = 2",
        "DELETE FROM exchanges WHERE seq = 2",
    )
    with logged.app_context():
        whole = audit_verify(db.session, workers=1)
        ranges = audit_verify(db.session, workers=1, chunk=2)
        workers = audit_verify(db.session, workers=2, chunk=2)
    assert [(f.kind, f.seq) for f in whole.findings] == [
        ("missing", 2),
        ("altered", 3),  # it follows the gap
        ("out_of_order", 4),
        ("missing", 3),  # outcomes, in the order they were written: that of 2 is gone,
        ("altered", 3),  # so the next one no longer links,
        ("altered", 5),  # the swapped ones moved,
        ("altered", 4),
        ("altered", 6),  # and one was changed
    ], whole.findings
    assert (whole.valid_records, whole.valid_outcomes) == (2, 1)
    assert ranges == whole
    assert workers == whole


def test_each_row_is_spelled_as_the_chain_encodes_it(app):
    """verify hashes a rendering of each row (PostgreSQL's, or on SQLite its own): it must
    be the canonical bytes, here for awkward values (quotes, control characters,
    non-ASCII, nested JSON, nulls, integral floats, dropped subjects)."""
    writer = AuditWriter(audit_engine(db.of(app).engine))
    awkward = {
        "request_id": "r-" + "1" * 30,
        "started_at": utcnow(),
        "client_id": None,
        "department": "Zürich — «growth» ✓",
        "tool": 'a"b\\c',
        "operation": "tab\there\nnew\x01line",
        "method": "POST",
        "path": "/proxy/x/ünï/%22",
        "purpose": None,
        "data_categories": ["user.contact.email", "ü"],
        "categories_stripped": [],
        "subject_count": 3,
        "consent_event_ids": [3, 1, 2],
        "country": "DE",
        "transfer_basis": None,
        "decision": "redact",
        "reasons": [{"rule": "consent", "message": 'Ada\'s "consent"', "a": [1.5, None, True]}],
        "policy_version": "v1",
        "bytes_in": 0,
    }
    refused = {"status": 403, "latency_ms": 5.0, "upstream_status": None, "error": "denied"}
    refused |= {"upstream_latency_ms": None, "bytes_out": None, "completed_at": utcnow()}
    completed = {"status": 200, "latency_ms": 0.000123, "upstream_status": 200, "error": None}
    completed |= {"upstream_latency_ms": 12.25, "bytes_out": 7, "completed_at": utcnow()}
    completed |= {"retries": 1}  # a later field: spelled when set, left out when null
    try:
        writer.submit(NewRecord(awkward, ["k2", "k1"], ["k9"], refused)).result(timeout=10)
        opened = writer.submit(NewRecord({**awkward, "request_id": "r2"}, ["é"], [])).result(10)
        writer.submit(Completion(opened, completed)).result(timeout=10)
    finally:
        writer.close()
    with app.app_context():
        connection = db.session.connection()
        table = ExchangeRecord.__table__
        rows = {r["seq"]: r for r in connection.execute(select(table)).mappings()}
        keys: dict[int, tuple[list, list]] = {}
        for seq, key, dropped in connection.execute(select(ExchangeSubject.__table__)):
            keys.setdefault(seq, ([], []))[dropped].append(key)
        rendered = rendered_records(connection, 1, 10**9)
        assert len(rendered) == len(rows) >= 2
        for seq, _, spelled, outcome_seq, _, outcome in rendered:
            values = record_values(rows[seq], keys.get(seq, ([], [])))
            assert spelled.encode() == canonical(values, RECORD_FIELDS)
            if outcome_seq is not None:
                assert outcome.encode() == canonical(rows[seq], OUTCOME_FIELDS)
        assert sum(row[3] is not None for row in rendered) >= 2
        assert audit_verify(db.session).ok


def test_the_writer_reconnects_when_postgresql_drops_its_connection(app):
    """After PostgreSQL ends the writer's connection (a restart, a failover), the next
    record is written on a new one: once, on the chain, with nothing lost."""
    engine = db.of(app).engine
    if engine.dialect.name != "postgresql":
        pytest.skip("only the PostgreSQL writer keeps a connection of its own")
    writer = AuditWriter(audit_engine(engine))
    fields = {"method": "GET", "path": "/proxy/x", "decision": "allow", "bytes_in": 0}
    fields |= {"data_categories": [], "categories_stripped": [], "reasons": []}
    fields |= {"consent_event_ids": [], "subject_count": 0}

    def write(request_id: str) -> int:
        values = {**fields, "request_id": request_id, "started_at": utcnow()}
        outcome = {"status": 200, "completed_at": utcnow()}
        return writer.submit(NewRecord(values, [], [], outcome)).result(timeout=10)

    try:
        first = write("before-the-drop")
        backend = writer._kept.driver_connection.info.backend_pid
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        second = write("after-the-drop")
    finally:
        writer.close()
    assert second == first + 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ExchangeRecord)) == 2
        assert audit_verify(db.session).ok


def test_a_null_later_field_leaves_older_hashes_as_they_were():
    outcome = {"outcome_seq": 3, "seq": 7, "completed_at": utcnow(), "status": 200}
    before_retries = [name for name in OUTCOME_FIELDS if name not in LATER_FIELDS]
    old_encoding = chain_module._encode([outcome.get(name) for name in before_retries])
    assert canonical({**outcome, "retries": None}, OUTCOME_FIELDS) == old_encoding.encode()
    assert canonical({**outcome, "retries": 0}, OUTCOME_FIELDS).endswith(b",0]")


def test_the_encoder_built_once_encodes_as_the_json_module():
    value = [1, 1.5, 5.0, None, True, 'ü"\\\n\x01', {"b": 1, "a": [2, {"d": None, "c": "x"}]}]
    value.append(utcnow())
    assert chain_module._encode(value) == chain_module._ENCODER.encode(value)

"""Retention: pruning old records leaves a log that still verifies, and only a clean cut."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.audit.checkpoints import create_checkpoint
from gateway.audit.log import ExchangeDraft, Result
from gateway.audit.models import ExchangeRecord
from gateway.audit.queries import record_query
from gateway.audit.retention import clean_cut, latest_anchor, prune
from gateway.audit.verify import verify as verify_log
from gateway.db import db, utcnow
from gateway.vault import vault_of
from policies.decision import Decision, Verdict
from tests.conftest import settled
from tests.test_audit import (  # noqa: F401  (logged: the fixture)
    assert_refused_as_append_only,
    logged,
    tamper,
    verify,
)

ALLOW = Decision(Verdict.ALLOW)


def started_at(app, seq: int):
    with app.app_context():
        return db.session.get(ExchangeRecord, seq).started_at


def prune_before(app, seq: int) -> int:
    """Prune every record that started before record ``seq``; returns how many went."""
    with app.app_context():
        anchor = prune(db.session, vault_of(app), started_at(app, seq))
        db.session.commit()
        return anchor.records_deleted if anchor else 0


def test_a_pruned_log_still_verifies_and_later_damage_is_still_found(logged, cli):  # noqa: F811
    assert prune_before(logged, 4) == 3
    status, output = verify(cli)
    assert status == 0, output
    assert "Results: 3 records, 3 valid; 3 outcomes, 3 valid; 0 problems" in output
    with logged.app_context():  # ranges checked apart and in parallel start from it too
        anchor = latest_anchor(db.session)
        report = verify_log(db.session, anchor=anchor, chunk=2, workers=2)
        assert report.ok and (report.records, report.outcomes) == (3, 3)
    tamper(logged, "DELETE FROM exchanges WHERE seq = 4")
    status, output = verify(cli)
    assert status == 1 and "missing       seq 4" in output


def test_prune_command_respects_the_period_and_is_recorded(logged, cli):  # noqa: F811
    result = cli("audit", "prune", "--older-than", "1d", "--yes")
    assert result.returncode == 0, result.stderr
    assert "nothing to prune" in result.stdout
    assert cli("audit", "prune", "--yes").returncode == 2  # no period given or configured
    trail = cli("audit", "queries").stdout
    assert "prune" in trail and "cli:" in trail


def test_the_cut_never_splits_interleaved_completions(app):
    """Record 1 completed after record 2: removing 1 alone would orphan outcome 2's link."""
    log = app.extensions["gatehouse.proxy"].log
    first, second, third = (
        log.open(ExchangeDraft(uuid.uuid4().hex, "GET", "/proxy/x/ping"), ALLOW) for _ in range(3)
    )
    for seq in (second, first, third):
        log.complete(seq, Result(status=200, latency_ms=1.0, upstream_status=200))
    settled(app)
    with app.app_context():
        assert clean_cut(db.session, started_at(app, second)) is None
        cut = clean_cut(db.session, started_at(app, third))
        assert (cut.through_seq, cut.through_outcome_seq) == (second, 2)
        everything = clean_cut(db.session, utcnow() + timedelta(seconds=1))
        assert (everything.through_seq, everything.through_outcome_seq) == (third, 3)
        kept = db.session.scalars(select(ExchangeRecord.seq).order_by(ExchangeRecord.seq))
        assert kept.all() == [1, 2, 3]


def test_the_trail_checkpoints_and_anchors_are_append_only_in_postgresql(logged):  # noqa: F811
    prune_before(logged, 4)  # leaves an anchor
    with logged.app_context():
        if db.session.connection().dialect.name != "postgresql":
            pytest.skip("enforced by a PostgreSQL trigger")
        create_checkpoint(db.session, vault_of(logged))
        record_query(db.session, "cli:tester", "search", {"tool": "mailchimp"}, 3)
        export = record_query(db.session, "cli:tester", "export", {"format": "csv"})
        db.session.commit()
        export.manifest, export.result_count = "{}", 3  # added once, when the export ends
        db.session.commit()
        assert_refused_as_append_only(
            "UPDATE audit_queries SET actor = 'someone else'",
            "UPDATE audit_queries SET result_count = 0",
            "UPDATE audit_queries SET manifest = 'x' WHERE manifest IS NOT NULL",
            "DELETE FROM audit_queries",
            "UPDATE audit_checkpoints SET document = '{}'",
            "DELETE FROM audit_checkpoints",
            "UPDATE audit_retention_anchors SET records_deleted = 0",
            "DELETE FROM audit_retention_anchors",
        )

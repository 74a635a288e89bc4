"""The chain's state for auditors: the heads of the log, the last signed checkpoint and
whether it can be trusted, the last verifications (each is kept in the auditors' trail),
and a verification of a bounded range of records run from the page.

Verifying the whole log is the CLI's job (``gatehouse audit verify``): on a large log it
takes longer than a page may. A range check costs about as much per record (see
``bench/verify_range.py``), so the page bounds it at :data:`MAX_RANGE` records.
"""

from __future__ import annotations

from flask import render_template, request

from gateway.audit.checkpoints import latest_checkpoint, untrusted_because
from gateway.audit.queries import recent_queries
from gateway.audit.retention import latest_anchor
from gateway.audit.verify import verify
from gateway.audit.writer import chain_heads
from gateway.db import db
from gateway.portal import access
from gateway.portal.audit_section import PERMISSION, record
from gateway.portal.blueprint import bp

#: The most records one verification from the page may cover.
MAX_RANGE = 100_000
#: Verifications listed.
RECENT = 10


class RangeError(ValueError):
    """The range asked for cannot be read or is too large."""


@bp.get("/audit/chain")
@access.page(PERMISSION)
def audit_chain():
    (head_seq, head_hash), (outcome_seq, outcome_hash) = chain_heads(db.session)
    checkpoint, anchor = latest_checkpoint(db.session), latest_anchor(db.session)
    given = {name: request.args.get(name, "").strip() for name in ("from_seq", "to_seq")}
    report, within, error, status = None, None, None, 200
    if any(given.values()):
        try:
            within = _range(given, head_seq)
        except RangeError as exc:
            error, status = str(exc), 400
        else:
            report = _verify(within, checkpoint, anchor)
    return render_template(
        "portal/audit/chain.html",
        head=(head_seq, head_hash),
        outcome_head=(outcome_seq, outcome_hash),
        checkpoint=checkpoint,
        checkpoint_problem=checkpoint and untrusted_because(db.session, checkpoint),
        anchor=anchor,
        given=given,
        within=within,
        report=report,
        error=error,
        max_range=MAX_RANGE,
        verifications=recent_queries(db.session, RECENT, kind="verify"),
    ), status


def _verify(within: tuple[int, int], checkpoint, anchor):
    """Checks the range and keeps the result in the trail (the tail is checked against
    the checkpoint when the checkpoint's record lies in the range)."""
    if checkpoint is not None and not within[0] <= checkpoint.seq <= within[1]:
        checkpoint = None
    report = verify(db.session, checkpoint, anchor=anchor, within=within, workers=1)
    record("verify", report.trail_entry(within, checkpoint), report.records)
    db.session.commit()
    return report


def _range(given: dict, head_seq: int) -> tuple[int, int]:
    bounds = []
    for name, default in (("from_seq", 1), ("to_seq", head_seq)):
        text = given[name]
        if not text:
            bounds.append(default)
        elif text.isascii() and text.isdigit() and len(text) <= 18:
            bounds.append(int(text))
        else:
            raise RangeError(f"{name.replace('_seq', '')}: {text[:20]!r} is not a record number")
    first, last = bounds
    if first < 1 or first > last:
        raise RangeError("the range must start at record 1 or later and end after it starts")
    if last - first + 1 > MAX_RANGE:
        raise RangeError(
            f"at most {MAX_RANGE:,} records at once from the portal; "
            "verify the whole log with `gatehouse audit verify`"
        )
    return first, last

"""The auditors' reports in the portal: the person report (GDPR Art. 15(1)(c)), the
record of processing (Art. 30) and the withdrawal check, over the services the auditor
API answers with, each recorded in the auditors' trail with the API's parameters."""

from __future__ import annotations

from flask import render_template, request

from gateway.audit.person import person_report
from gateway.audit.processing import DEFAULT_PERIOD, processing_record
from gateway.audit.search import ExchangeFilter, FilterError, person_key
from gateway.audit.withdrawals import check_withdrawals
from gateway.db import db, utcnow
from gateway.portal import access
from gateway.portal.audit_section import PERMISSION, pepper, record
from gateway.portal.blueprint import bp
from policies.consent_import import IDENTIFIER_KINDS


@bp.get("/audit/people")
@access.page(PERMISSION)
def audit_person():
    given = {kind: request.args.get(kind, "").strip() for kind in IDENTIFIER_KINDS}
    template = "portal/audit/person.html"
    if not any(given.values()):
        return render_template(template, given=given, report=None, error=None)
    try:
        key = person_key(given, pepper())
    except FilterError as exc:
        return render_template(template, given=given, report=None, error=str(exc)), 400
    report = person_report(db.session, key)
    record("person_report", {"subject_key": key}, len(report.exchanges))
    db.session.commit()
    return render_template(template, given=given, report=report, error=None)


@bp.get("/audit/processing")
@access.page(PERMISSION)
def audit_processing():
    given = request.args.get("since", "").strip()
    try:
        since = _since(given) or utcnow() - DEFAULT_PERIOD
    except FilterError as exc:
        return render_template(
            "portal/audit/processing.html", given=given, since=None, activities=[], error=str(exc)
        ), 400
    activities = processing_record(db.session, since)
    record("processing_record", {"since": since.isoformat()}, len(activities))
    db.session.commit()
    return render_template(
        "portal/audit/processing.html", given=given, since=since, activities=activities, error=None
    )


@bp.get("/audit/withdrawals")
@access.page(PERMISSION)
def audit_withdrawals():
    given = request.args.get("since", "").strip()
    try:
        since = _since(given)
    except FilterError as exc:
        return render_template(
            "portal/audit/withdrawals.html", given=given, check=None, error=str(exc)
        ), 400
    check = check_withdrawals(db.session, since)
    record("withdrawal_check", {"since": since and since.isoformat()}, len(check.violations))
    db.session.commit()
    return render_template("portal/audit/withdrawals.html", given=given, check=check, error=None)


def _since(text: str):
    """The moment in ``since`` read as the API reads it (``None`` when not given)."""
    return ExchangeFilter.from_params({"since": text}, b"").since

"""The auditors' API: search and export the exchange log, and the reports they ask for.

Every endpoint takes a token with the ``audit:read`` scope (the auditor's role: read
everything here, change nothing) and is itself recorded in the auditors' trail
(``/audit/queries``), with any person searched for only as the keyed hash.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import update

from gateway.api import audit_schemas as shapes
from gateway.api import inputs
from gateway.api.auth import guard
from gateway.api.components import PROBLEM, parameters
from gateway.api.operations import api_spec
from gateway.audit.export import FORMATS, MEDIA_TYPES, record_as_dict, unknown_outcome_cutoff
from gateway.audit.manifest import ExportDigest
from gateway.audit.person import person_report
from gateway.audit.processing import DEFAULT_PERIOD, processing_record
from gateway.audit.queries import AuditQuery, api_actor, recent_queries, record_query
from gateway.audit.search import MAX_PAGE, ExchangeFilter, FilterError, person_key, search
from gateway.audit.withdrawals import check_withdrawals
from gateway.config import config_of
from gateway.db import db, utcnow
from gateway.errors import Problem, problem_response
from gateway.vault import vault_of

SCOPE = "audit:read"
MANIFEST_HEADER = "Gatehouse-Export-Manifest"


def search_exchanges():
    where = _filter()
    limit = inputs.query_integer("limit", 100, 1, MAX_PAGE)
    page = search(db.session, where, limit, request.args.get("cursor"))
    _record("search", where.described(), len(page.records))
    db.session.commit()
    cutoff = unknown_outcome_cutoff(config_of(current_app))
    return jsonify(
        items=[record_as_dict(record, cutoff) for record in page.records],
        next_cursor=page.next_cursor,
    )


def export_exchanges():
    where = _filter()
    file_format = request.args.get("format", "jsonl")
    if file_format not in FORMATS:
        raise inputs.invalid_query(f"format must be one of {', '.join(FORMATS)}")
    digest = ExportDigest(
        db.session, where, file_format, unknown_outcome_cutoff(config_of(current_app))
    )
    query_id = _record("export", {**where.described(), "format": file_format}).id
    db.session.commit()
    session, vault = db.session, vault_of(current_app)

    def stream():
        yield from digest.chunks()
        manifest = digest.manifest(vault)
        session.execute(
            update(AuditQuery)
            .where(AuditQuery.id == query_id)
            .values(manifest=manifest.to_json(), result_count=digest.count)
        )
        session.commit()

    name = f"exchanges-{utcnow():%Y%m%dT%H%M%S}.{file_format}"
    return Response(
        stream_with_context(stream()),
        mimetype=MEDIA_TYPES[file_format],
        headers={
            MANIFEST_HEADER: url_for("api.export_manifest", export_id=query_id),
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


def export_manifest(export_id: str):
    query = db.session.get(AuditQuery, inputs.path_id(export_id, "export"))
    if query is None or query.kind != "export":
        raise Problem(404, "not-found", "Not found", f"no export {export_id}")
    if query.manifest is None:
        raise Problem(
            409,
            "export-incomplete",
            "Export incomplete",
            "this export was not read to its end, so it has no manifest; export again",
        )
    return Response(query.manifest, mimetype="application/json")


def report_person():
    key = person_key(request.args, _pepper())
    if key is None:
        raise inputs.invalid_query("give one of email, phone or external_id")
    report = person_report(db.session, key)
    _record("person_report", {"subject_key": key}, len(report.exchanges))
    db.session.commit()
    return jsonify(report.as_dict())


def report_processing():
    since = _filter().since or utcnow() - DEFAULT_PERIOD
    activities = processing_record(db.session, since)
    _record("processing_record", {"since": since.isoformat()}, len(activities))
    db.session.commit()
    return jsonify(since=since.isoformat(), activities=[a.as_dict() for a in activities])


def report_withdrawals():
    since = _filter().since
    check = check_withdrawals(db.session, since)
    _record("withdrawal_check", {"since": since and since.isoformat()}, len(check.violations))
    db.session.commit()
    return jsonify(check.as_dict())


def list_queries():
    queries = recent_queries(db.session, inputs.query_integer("limit", 100, 1, MAX_PAGE))
    return jsonify(items=[query.as_dict() for query in queries])


def _filter() -> ExchangeFilter:
    return ExchangeFilter.from_params(request.args, _pepper())


def _record(kind: str, parameters: dict, count: int | None = None) -> AuditQuery:
    actor = g.actor
    return record_query(
        db.session, api_actor(actor.kind, actor.id, actor.label), kind, parameters, count
    )


def _pepper() -> bytes:
    return config_of(current_app).pepper


def _unreadable_query(exc: FilterError) -> Response:
    return problem_response(inputs.invalid_query(str(exc)))


FILTERS = parameters(
    "since",
    "until",
    "tool",
    "department",
    "client",
    "decision",
    "rule",
    "purpose",
    "category",
    "email",
    "phone",
    "external_id",
)
PERSON = parameters("email", "phone", "external_id")
SINCE = {"name": "since", "in": "query", "schema": {"type": "string", "maxLength": 40}}
CURSOR = {
    "name": "cursor",
    "in": "query",
    "schema": {"type": "string", "maxLength": 100},
    "description": "next_cursor of the previous page",
}
FORMAT = {"name": "format", "in": "query", "schema": {"enum": list(FORMATS), "default": "jsonl"}}
EXPORT_ID = {"type": "integer", "minimum": 1, "maximum": inputs.MAX_ID}
TEXT = {"type": "string"}

#: view -> (path, what its OpenAPI operation declares besides the permission)
OPERATIONS = {
    search_exchanges: (
        "/audit/exchanges",
        {
            "summary": "Search the exchange log (in sequence order, paged)",
            "query": (*FILTERS, *parameters("limit"), CURSOR),
            "answers": {200: ("A page of records", shapes.EXCHANGE_PAGE)},
        },
    ),
    export_exchanges: (
        "/audit/exchanges/export",
        {
            "summary": "Export the matching records as JSON lines or CSV",
            "description": f"Streams the file; the `{MANIFEST_HEADER}` header names where its "
            "signed manifest can be read once the file has been read to its end.",
            "query": (FORMAT, *FILTERS),
            "answers": {200: ("The export", TEXT)},
            "media_type": tuple(MEDIA_TYPES[name] for name in FORMATS),
            "headers": {MANIFEST_HEADER: {"schema": TEXT, "description": "path of the manifest"}},
        },
    ),
    export_manifest: (
        "/audit/exports/{export_id}/manifest",
        {
            "summary": "The signed manifest of an export",
            "path_schemas": {"export_id": EXPORT_ID},
            "answers": {
                200: ("The manifest", shapes.EXPORT_MANIFEST),
                404: ("No such export", PROBLEM),
                409: ("The export was not read to its end, so it has no manifest", PROBLEM),
            },
        },
    ),
    report_person: (
        "/audit/people",
        {
            "summary": "Person report (GDPR Art. 15(1)(c)): which tools received this "
            "person's data",
            "query": PERSON,
            "answers": {
                200: (
                    "Each receiving tool (when, which categories, purposes, consent events) "
                    "and every exchange that named the person, with `delivery` received, "
                    "possibly_received or not_sent.",
                    shapes.PERSON_REPORT,
                )
            },
        },
    ),
    report_processing: (
        "/audit/processing",
        {
            "summary": "Record of processing activities (GDPR Art. 30), one per tool",
            "query": ({**SINCE, "description": "traffic since (default a year ago)"},),
            "answers": {
                200: (
                    "What the catalog declares, the traffic seen, and what was sent undeclared",
                    shapes.PROCESSING_RECORD,
                )
            },
        },
    ),
    report_withdrawals: (
        "/audit/withdrawals",
        {
            "summary": "Exchanges that sent a person's data after they withdrew consent "
            "(must be none)",
            "query": (SINCE,),
            "answers": {
                200: (
                    "How many people and exchanges were checked, and each violation",
                    shapes.WITHDRAWAL_CHECK,
                )
            },
        },
    ),
    list_queries: (
        "/audit/queries",
        {
            "summary": "The auditors' trail, newest first",
            "query": parameters("limit"),
            "answers": {
                200: (
                    "Who searched, exported or reported, with what parameters",
                    shapes.AUDITORS_TRAIL,
                )
            },
        },
    ),
}


def register(bp: Blueprint) -> None:
    bp.register_error_handler(FilterError, _unreadable_query)
    for view, (path, declared) in OPERATIONS.items():
        api_spec.operation(bp, "GET", path, guard, permission=SCOPE, tag="audit", **declared)(view)

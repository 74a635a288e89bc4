"""One governed call: identify, resolve, decide, record, forward, record, respond.

Every refusal is recorded in one write; an allowed call is recorded before it is
forwarded and completed after. If the record cannot be written the answer is 503 and
nothing leaves the gateway.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, Response, current_app, g, request

from catalog.snapshot import CatalogSnapshot, ToolView
from connectors.auth import CredentialMissing
from connectors.pointers import remove
from gateway.audit.log import NOT_RECORDED, AuditUnavailable, ExchangeDraft, ExchangeLog, Result
from gateway.audit.writer import AuditWriter, audit_engine
from gateway.breakers import Breakers
from gateway.db import db, utcnow
from gateway.errors import Problem, database_errors_as_problem
from gateway.metrics import (
    NONE,
    UNKNOWN_TOOL,
    observe_consent_blocked,
    observe_exchange,
    observe_reasons,
    observe_vendor_error,
)
from gateway.oauth.server import oauth_of
from gateway.oauth.tokens import AccessTokenVerifier
from gateway.proxy.caller import DEFAULT_LOCATIONS, Caller, identify_caller
from gateway.proxy.inspection import (
    Call,
    Inspection,
    inspect_call,
    match_call,
    requested_purpose,
)
from gateway.proxy.recorded_path import masked_path, recorded_path
from gateway.proxy.refusal import decision_of, policy_refusal, refusal
from gateway.rate_limits import RateLimits
from gateway.snapshots import Snapshots, snapshots_of
from gateway.upstream import (
    UnsafePath,
    UpstreamFailure,
    UpstreamPool,
    ensure_safe_path,
    upstream_url,
)
from gateway.vendor_connections import AddressRefused
from gateway.vendor_tokens import VendorAuthError, VendorTokens
from policies.consent import consent_states
from policies.decision import Decision, Verdict
from policies.engine import decide
from policies.facts import DataFact, ExchangeFacts, Signals, SubjectFact
from policies.policy import Policy

#: The policy rule that refuses people without consent (see ``policies.engine.consent``).
CONSENT_RULE = "consent"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
DECISION_HEADER = "Gatehouse-Decision"


@dataclass(frozen=True)
class ProxyServices:
    snapshots: Snapshots
    verifier: AccessTokenVerifier
    log: ExchangeLog
    upstream: UpstreamPool
    vendor_tokens: VendorTokens
    pepper: bytes
    limits: RateLimits
    breakers: Breakers

    @classmethod
    def attach(cls, app: Flask) -> None:
        config = app.extensions["gatehouse.config"]
        app.extensions["gatehouse.proxy"] = cls(
            snapshots=snapshots_of(app),
            verifier=oauth_of(app).verifier,
            log=ExchangeLog(
                AuditWriter(audit_engine(db.of(app).engine, config.database_timeout)),
                config.audit_timeout,
            ),
            upstream=UpstreamPool(
                config.upstream_connect_timeout,
                config.upstream_read_timeout,
                config.upstream_pool_size,
                config.upstream_retries,
                config.upstream_deadline,
                config.upstream_max_response_bytes,
                config.upstream_backoff,
            ),
            vendor_tokens=VendorTokens(
                (config.upstream_connect_timeout, config.upstream_read_timeout),
                config.upstream_deadline,
            ),
            pepper=config.pepper,
            limits=RateLimits.attach(app),
            breakers=Breakers(config.breaker_failures, config.breaker_open_seconds),
        )


@dataclass(frozen=True)
class Plan:
    """An allowed exchange, ready to forward."""

    tool: ToolView
    url: str
    headers: dict[str, str]
    body: bytes
    decision: Decision
    #: ``RateLimit`` fields of the call's tightest limit, for the answer.
    rate_limit_fields: dict[str, str]
    #: The operation may be sent again if the call fails (``gateway.retries``).
    idempotent: bool


def proxy(tool_slug: str, upstream_path: str = "") -> Response:
    services: ProxyServices = current_app.extensions["gatehouse.proxy"]
    started = time.perf_counter()
    draft = ExchangeDraft(
        request_id=g.request_id,
        method=request.method,
        path="",  # set once the operation matches (_note_call), or when refused before
        started_at=utcnow(),
        tool=tool_slug[:64],
        purpose=requested_purpose(request),  # the operation's default replaces None later
        bytes_in=request.content_length or 0,
    )
    try:
        with database_errors_as_problem():  # a refusal: recorded, nothing forwarded
            plan = _plan(services, draft, tool_slug, upstream_path)
    except Problem as problem:
        _record_refusal(services, draft, problem, started)
        problem.headers[DECISION_HEADER] = "deny"
        raise
    return _forward(services, draft, plan, started)


def _plan(services: ProxyServices, draft: ExchangeDraft, slug: str, path: str) -> Plan:
    catalog: CatalogSnapshot = services.snapshots.get("catalog")
    tool = catalog.tools.get(slug)
    if tool is not None:
        _refuse_misconfigured(tool)
    locations = tool.spec.app_token if tool else DEFAULT_LOCATIONS
    caller = identify_caller(
        request,
        services.verifier,
        services.snapshots.get("clients"),
        locations,
        api_keys=services.snapshots.get("api_keys"),
    )
    draft.client_id = caller.client.client_id
    draft.department = caller.client.department
    if tool is None:  # told only to an authenticated app
        raise refusal(
            404, "unknown-tool", "Unknown tool", "catalog", f"no tool {slug!r} in the catalog"
        )
    _refuse_unsafe(path)  # before matching: "{list_id}" would match ".."
    call = match_call(request, tool, path)
    _note_call(draft, tool, call, services.pepper)
    inspection = inspect_call(request, tool, call, services.pepper)
    _note_inspection(draft, inspection)
    policy: Policy = services.snapshots.get("policy")
    facts = _exchange_facts(caller, tool, catalog, inspection, policy, draft.started_at)
    draft.country, draft.transfer_basis = tool.facts.country, tool.facts.transfer_basis
    decision = decide(facts, policy)
    if not decision.allowed:
        raise policy_refusal(decision)
    services.breakers.admit(tool.slug)
    rate_limit_fields = services.limits.admit(caller, tool, catalog)
    body = _note_decision(draft, inspection, decision)
    headers, url = _outgoing(services, tool, path, inspection.headers)
    return Plan(tool, url, headers, body, decision, rate_limit_fields, call.operation.idempotent)


def _exchange_facts(
    caller: Caller,
    tool: ToolView,
    catalog: CatalogSnapshot,
    inspection: Inspection,
    policy: Policy,
    now: datetime,
) -> ExchangeFacts:
    classification = inspection.classification
    subjects = tuple(
        SubjectFact(key, subject.location, subject.item)
        for key, subject in zip(inspection.subject_keys, classification.subjects, strict=True)
    )
    needs_consent = policy.lawful_basis(inspection.purpose) == "consent"
    keys = [subject.key for subject in subjects if subject.key is not None]
    return ExchangeFacts(
        client_id=caller.client.client_id,
        department=caller.client.department,
        tool=tool.facts,
        grant=catalog.grant(caller.client.department, tool.slug),
        now=now,
        purpose=inspection.purpose,
        data=tuple(DataFact(found.pointer, found.category) for found in classification.data),
        subjects=subjects,
        consents=consent_states(db.of(current_app).reads, keys) if needs_consent else {},
        signals=Signals(
            gpc=request.headers.get("Sec-GPC", "").strip() == "1",
            tc_string=request.headers.get("X-TCF-Consent"),
        ),
    )


def _note_decision(draft: ExchangeDraft, inspection: Inspection, decision: Decision) -> bytes:
    """Record what the decision removed; the body to forward, redacted if it must be."""
    draft.consent_event_ids = list(decision.consent_event_ids)
    if decision.verdict is not Verdict.REDACT:
        return inspection.body
    stripped = set(decision.strip)
    draft.categories_stripped = sorted(
        {found.category for found in inspection.classification.data if found.pointer in stripped}
    )
    draft.dropped_subject_keys = sorted({key for key in decision.dropped_subjects if key})
    draft.subject_keys = sorted(set(draft.subject_keys) - set(draft.dropped_subject_keys))
    document = copy.deepcopy(inspection.document)
    remove(document, [*decision.strip, *decision.drop])
    return json.dumps(document).encode()


def _note_call(draft: ExchangeDraft, tool: ToolView, call: Call, pepper: bytes) -> None:
    """What is known once the operation matched, kept even if the body is then refused."""
    draft.operation = call.operation.id
    draft.purpose = call.purpose
    draft.path = recorded_path(f"/proxy/{tool.slug}", call.operation, call.path_params, pepper)


def _note_inspection(draft: ExchangeDraft, inspection: Inspection) -> None:
    draft.bytes_in = len(inspection.body)
    draft.data_categories = sorted(inspection.classification.categories)
    draft.subject_count = len(inspection.subject_keys)
    draft.subject_keys = [key for key in inspection.subject_keys if key is not None]


def _refuse_misconfigured(tool: ToolView) -> None:
    if tool.spec is None or tool.base_url is None or "{" in tool.base_url:
        raise refusal(
            503,
            "tool-misconfigured",
            "Tool misconfigured",
            "catalog",
            f"tool {tool.slug!r} has no usable connector or base URL; IT must fix its catalog "
            "entry",
        )


def _refuse_unsafe(path: str) -> None:
    try:
        ensure_safe_path(path)
    except UnsafePath as exc:
        raise _unsafe_path(exc) from exc


def _unsafe_path(exc: UnsafePath) -> Problem:
    return refusal(400, "unsafe-path", "Unsafe upstream path", "upstream_path", str(exc))


def _outgoing(
    services: ProxyServices, tool: ToolView, path: str, checked_headers: dict[str, str]
) -> tuple[dict[str, str], str]:
    """Headers and URL for the vendor: the app's token out, the vendor credential in."""
    spec = tool.spec
    headers = dict(checked_headers)
    headers["X-Request-Id"] = g.request_id  # lets the vendor's logs be matched to ours
    params: dict[str, str] = {}
    try:
        spec.auth.apply(
            tool.credentials,
            headers,
            params,
            lambda strategy, credentials: services.vendor_tokens.token(
                strategy, credentials, tool.base_url, tool.allow_private_network
            ),
        )
        url = upstream_url(
            tool.base_url,
            path,
            request.query_string.decode("latin-1"),
            params,
            spec.app_token_params,
        )
    except UnsafePath as exc:  # the joined URL left the base, after the path passed
        raise _unsafe_path(exc) from exc
    except CredentialMissing as exc:
        raise refusal(
            503,
            "tool-misconfigured",
            "Tool misconfigured",
            "catalog",
            f"tool {tool.slug!r} has no stored credential {exc.args[0]!r}",
        ) from exc
    except VendorAuthError as exc:
        observe_vendor_error(tool.slug, "auth")
        raise refusal(
            502, "vendor-auth-failed", "Vendor authentication failed", "vendor_auth", str(exc)
        ) from exc
    except AddressRefused as exc:  # the vendor's token endpoint, before any call
        observe_vendor_error(tool.slug, "address-refused")
        raise refusal(
            502,
            "upstream-address-refused",
            "Tool address refused",
            "upstream_address",
            "the tool's token endpoint resolves to an address this tool may not reach "
            f"({exc.reason})",
        ) from exc
    return headers, url


def _forward(services: ProxyServices, draft: ExchangeDraft, plan: Plan, started: float) -> Response:
    try:
        seq = services.log.open(draft, plan.decision)
    except AuditUnavailable as exc:
        _observe(services, draft, "deny", 503, started, None)
        raise _audit_unavailable() from exc
    verdict = plan.decision.verdict.value
    try:
        answer = services.upstream.send(
            plan.tool.slug,
            draft.method,
            plan.url,
            plan.headers,
            plan.body,
            plan.tool.allow_private_network,
            plan.idempotent,
        )
    except UpstreamFailure as failure:
        services.breakers.observe(plan.tool.slug, failure)
        services.log.complete(
            seq,
            Result(
                status=failure.status,
                latency_ms=_ms_since(started),
                upstream_latency_ms=round(failure.elapsed * 1000, 3),
                error=failure.slug,
                retries=failure.retries,
            ),
        )
        _observe(services, draft, verdict, failure.status, started, failure.elapsed, plan.decision)
        observe_vendor_error(plan.tool.slug, failure.kind)
        problem = Problem(failure.status, failure.slug, "Tool failed", failure.detail)
        problem.headers[DECISION_HEADER] = verdict
        raise problem from failure
    services.limits.vendor_answered(plan.tool, answer.status, answer.headers)
    services.breakers.observe(plan.tool.slug, answer)
    services.log.complete(
        seq,
        Result(
            status=answer.status,
            latency_ms=_ms_since(started),
            upstream_status=answer.status,
            upstream_latency_ms=round(answer.elapsed * 1000, 3),
            bytes_out=len(answer.body),
            retries=answer.retries,
        ),
    )
    _observe(services, draft, verdict, answer.status, started, answer.elapsed, plan.decision)
    if kind := vendor_error_kind(answer.status):
        observe_vendor_error(plan.tool.slug, kind)
    response = Response(answer.body, status=answer.status, headers=answer.headers)
    response.headers.update(plan.rate_limit_fields)
    response.headers[DECISION_HEADER] = verdict
    return response


def _record_refusal(
    services: ProxyServices, draft: ExchangeDraft, problem: Problem, started: float
) -> None:
    result = Result(status=problem.status, latency_ms=_ms_since(started), error=problem.slug)
    decision = decision_of(problem)
    # Refused before any operation matched: the path as requested, persons' parts hashed.
    draft.path = draft.path or masked_path(request.path, services.pepper)
    try:
        services.log.record_refused(draft, decision, result)
    except AuditUnavailable as exc:
        _observe(services, draft, "deny", 503, started, None)
        raise _audit_unavailable() from exc
    _observe(services, draft, "deny", problem.status, started, None, decision)


def _audit_unavailable() -> Problem:
    problem = Problem(
        503,
        NOT_RECORDED,
        "Cannot record the exchange",
        "the exchange log cannot be written, so nothing was forwarded; try again later",
        headers={"Retry-After": "5"},
    )
    problem.headers[DECISION_HEADER] = "deny"
    return problem


def _observe(
    services: ProxyServices,
    draft: ExchangeDraft,
    decision: str,
    status: int,
    started: float,
    upstream: float | None,
    why: Decision | None = None,
) -> None:
    # Only catalog slugs become label values, so made-up paths cannot inflate the series;
    # the department is that of a registered app (None until the caller is identified).
    known = draft.tool in services.snapshots.get("catalog").tools
    tool = draft.tool if known else UNKNOWN_TOOL
    department = draft.department or NONE
    observe_exchange(tool, department, decision, status, time.perf_counter() - started, upstream)
    if why is None:
        return
    rules = [reason.rule for reason in why.reasons]
    observe_reasons(tool, department, decision, rules)
    observe_consent_blocked(tool, department, "dropped", len(why.dropped_subjects))
    if decision == "deny" and CONSENT_RULE in rules:
        observe_consent_blocked(tool, department, "refused", draft.subject_count)


def vendor_error_kind(status: int) -> str | None:
    """The kind of vendor error an answer passed on is, if any: rate limited or failed."""
    if status == 429:
        return "429"
    return "5xx" if status >= 500 else None


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)

"""Recording exchanges: committed before the vendor is called, completed after.

Records go through the group-commit writer (``gateway.audit.writer``), which extends
the hash chains; a request waits until its record is committed, for a bounded time
(``GATEHOUSE_AUDIT_TIMEOUT``). When the database refuses the write, or it is not
written in time, the caller gets :class:`AuditUnavailable` and must not forward (fail
closed); a record written after its request stopped waiting is completed as answered
503 without being forwarded, so that it never reads as allowed and pending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from gateway.audit.writer import AuditWriter, Completion, NewRecord, Probe, Receipt
from gateway.db import utcnow
from policies.decision import Decision

logger = logging.getLogger(__name__)

#: The problem slug a call gets when its record cannot be written; also the ``error``
#: of a record written too late for its call, which was answered with it.
NOT_RECORDED = "audit-unavailable"


class AuditUnavailable(Exception):
    """The exchange could not be recorded; nothing may be forwarded."""


@dataclass
class ExchangeDraft:
    """The facts of one exchange, gathered while the proxy handles it."""

    request_id: str
    method: str
    path: str
    started_at: datetime = field(default_factory=utcnow)
    client_id: str | None = None
    department: str | None = None
    tool: str | None = None
    operation: str | None = None
    purpose: str | None = None
    data_categories: list[str] = field(default_factory=list)
    categories_stripped: list[str] = field(default_factory=list)
    subject_count: int = 0
    #: Keyed hashes of the subjects whose data is sent; stored beside the record.
    subject_keys: list[str] = field(default_factory=list)
    #: Keyed hashes of the subjects policy removed from the batch (nothing of theirs sent).
    dropped_subject_keys: list[str] = field(default_factory=list)
    consent_event_ids: list[int] = field(default_factory=list)
    country: str | None = None
    transfer_basis: str | None = None
    bytes_in: int = 0


@dataclass(frozen=True)
class Result:
    status: int
    latency_ms: float
    upstream_status: int | None = None
    upstream_latency_ms: float | None = None
    bytes_out: int | None = None
    error: str | None = None
    retries: int | None = None


class ExchangeLog:
    def __init__(self, writer: AuditWriter, timeout: float) -> None:
        """``timeout``: seconds a request waits for its entry to be committed."""
        self._writer = writer
        self._timeout = timeout

    def close(self) -> None:
        self._writer.close()

    def open(self, draft: ExchangeDraft, decision: Decision) -> int:
        """Durably record an exchange about to be forwarded; returns its sequence number.
        Raises :class:`AuditUnavailable` if it is not written in time: the caller must
        answer 503 without forwarding, as the record then says, should it be written."""
        receipt = self._writer.submit(_new_record(draft, decision, None))
        try:
            return self._wait(receipt)
        except AuditUnavailable:
            answered = _outcome(_not_forwarded(draft))  # now, as the caller answers
            receipt.if_written_later(lambda seq: self._writer.submit(Completion(seq, answered)))
            raise

    def probe(self) -> None:
        """Raises :class:`AuditUnavailable` unless the log can be written now: the writer
        runs and takes the chain lock within the timeout."""
        self._wait(self._writer.submit(Probe()))

    def record_refused(self, draft: ExchangeDraft, decision: Decision, result: Result) -> int:
        """Record, in one write, an exchange the gateway answered itself."""
        return self._wait(self._writer.submit(_new_record(draft, decision, result)))

    def complete(self, seq: int, result: Result) -> None:
        """Add the outcome, without waiting for it to be committed: the answer needs only
        the record. Should the process die first, the record stays pending (read as
        ``outcome_unknown``), as when the outcome cannot be written: that is logged (and
        counted by the writer). :meth:`close` writes what is still queued."""

        def not_written(error: BaseException) -> None:
            logger.error("could not record the outcome of exchange %s", seq, exc_info=error)

        self._writer.submit(Completion(seq, _outcome(result), Receipt(not_written)))

    def _wait(self, receipt: Receipt) -> int:
        try:
            return receipt.result(timeout=self._timeout)
        except Exception as exc:  # TimeoutError included
            raise AuditUnavailable from exc


def _new_record(draft: ExchangeDraft, decision: Decision, result: Result | None) -> NewRecord:
    fields = {
        name: value
        for name, value in vars(draft).items()
        if name not in ("subject_keys", "dropped_subject_keys")
    }
    fields.update(
        decision=decision.verdict.value,
        reasons=[reason.as_dict() for reason in decision.reasons],
        policy_version=decision.policy_version,
    )
    return NewRecord(
        fields=fields,
        subject_keys=list(draft.subject_keys),
        dropped_keys=list(draft.dropped_subject_keys),
        outcome=_outcome(result) if result else None,
    )


def _not_forwarded(draft: ExchangeDraft) -> Result:
    elapsed = (utcnow() - draft.started_at).total_seconds()
    return Result(status=503, latency_ms=round(elapsed * 1000, 3), error=NOT_RECORDED)


def _outcome(result: Result) -> dict:
    return {**vars(result), "completed_at": utcnow()}

"""The engine's answer: allow, redact or deny, with a reason per rule that objected."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    ALLOW = "allow"
    REDACT = "redact"
    DENY = "deny"


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[Reason, ...] = ()
    policy_version: str | None = None
    #: JSON pointers of fields to remove before forwarding (redact).
    strip: tuple[str, ...] = ()
    #: JSON pointers of batch items to remove before forwarding (redact).
    drop: tuple[str, ...] = ()
    #: Keys of the subjects dropped from the batch.
    dropped_subjects: tuple[str | None, ...] = ()
    #: The consent events the decision relied on.
    consent_event_ids: tuple[int, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict is not Verdict.DENY

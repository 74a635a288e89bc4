"""The vendor-risk checklist IT fills in for a tool request, as a JSON Schema.

A reviewer may save the checklist half-filled and come back; it is *complete* when
every answer in :data:`REQUIRED_ANSWERS` is given, and only a complete checklist lets a
request be approved. The processing country and transfer basis become the tool's own
when it is approved, so the policy engine checks transfers with what IT reviewed.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy.orm import Session

from catalog.errors import Invalid
from catalog.models import RequestStatus, ToolRequest, TransferBasis, VendorReview
from catalog.requests import move_to, record_request_change, request_state, require_open
from connectors.pointers import render
from gateway.identity.actors import Actor

_ISO_3166_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK
    DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR
    GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
    KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP
    MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL
    PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST
    SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG
    VI VN VU WF WS YE YT ZA ZM ZW"""
#: ISO 3166-1 alpha-2 country codes.
COUNTRIES = frozenset(_ISO_3166_ALPHA_2.split())

CERTIFICATIONS = ("soc2", "iso27001", "other")
CERTIFICATION_LABELS = {"soc2": "SOC 2", "iso27001": "ISO 27001", "other": "Other"}

_TEXT = {"type": "string", "maxLength": 2000}
_DATE = {"type": "string", "format": "date", "description": "a date such as 2026-05-31"}

CHECKLIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "dpa_signed": {**_DATE, "title": "Data processing agreement signed on"},
        "processing_country": {
            "type": "string",
            "enum": sorted(COUNTRIES),
            "title": "Where the vendor processes the data (ISO 3166 alpha-2)",
        },
        "transfer_basis": {"enum": [basis.value for basis in TransferBasis]},
        "certifications": {
            "type": "array",
            "maxItems": 10,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"enum": list(CERTIFICATIONS)},
                    "detail": {"type": "string", "maxLength": 200},
                    "valid_until": _DATE,
                },
            },
        },
        "subprocessors": {"type": "array", "maxItems": 100, "items": {**_TEXT, "minLength": 1}},
        "retention_terms": _TEXT,
        "deletion_terms": _TEXT,
        "sso": {"type": "boolean"},
        "mfa": {"type": "boolean"},
        "security_contact": {
            "type": "string",
            "maxLength": 320,
            "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            "description": "an e-mail address",
        },
        "notes": {"type": "string", "maxLength": 10000},
        "attachments": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "string",
                "maxLength": 1000,
                "pattern": r"^https://[^\s/]+\.[^\s]+$",
                "description": "an https:// link",
            },
        },
    },
}

#: The answers a checklist must have before the request can be approved.
REQUIRED_ANSWERS = (
    "dpa_signed",
    "processing_country",
    "transfer_basis",
    "subprocessors",
    "retention_terms",
    "deletion_terms",
    "sso",
    "mfa",
    "security_contact",
)

_VALIDATOR = Draft202012Validator(CHECKLIST_SCHEMA, format_checker=FormatChecker())


def checklist_problems(answers: Any) -> list[dict]:
    """Each answer that does not fit the checklist, with its pointer and what is wrong."""
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(answers), key=lambda e: list(e.absolute_path)):
        pointer = render(tuple(map(str, error.absolute_path)))
        problems.append({"pointer": pointer, "message": _explained(error)})
    return problems


def _explained(error) -> str:
    if (
        error.validator == "enum"
        and error.absolute_path
        and error.absolute_path[-1] == ("processing_country")
    ):
        return "must be a two-letter ISO 3166 country code, such as DE or US"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator in ("format", "pattern") and "description" in error.schema:
        return f"must be {error.schema['description']}"
    if error.validator == "maxLength":
        return f"must be at most {error.validator_value} characters"
    if error.validator == "additionalProperties":
        return "holds an answer the checklist does not ask for"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    return error.message[:200]


def missing_answers(answers: dict) -> list[str]:
    """The required answers not given yet (an empty list of subprocessors is an answer)."""
    return [
        name for name in REQUIRED_ANSWERS if answers.get(name) is None or answers.get(name) == ""
    ]


def is_complete(review: VendorReview | None) -> bool:
    return review is not None and not missing_answers(review.answers)


def save_review(
    session: Session, actor: Actor, source: str, request: ToolRequest, answers: Any
) -> VendorReview:
    """Stores the checklist as given (it replaces the previous answers); a request that
    was only submitted is now under review."""
    actor.require("reviews:write")
    require_open(request)
    problems = checklist_problems(answers)
    if problems:
        raise Invalid("the checklist has problems; each is listed with its answer", problems)
    before = request_state(request)
    if request.review is None:
        request.review = VendorReview(answers={}, updated_by=actor.label)
    request.review.answers = {key: value for key, value in answers.items() if value is not None}
    request.review.updated_by = actor.label
    if request.status == RequestStatus.SUBMITTED:
        move_to(request, RequestStatus.UNDER_REVIEW)
    record_request_change(session, actor, source, request, "reviewed", before)
    return request.review

"""Decode IAB TCF v2.2 consent strings (the `X-TCF-Consent` header), refusing any that is damaged.

Marketing apps may pass the end user's TC string; the gateway reads consent from it before it
lets personal data reach a SaaS tool. We decode it ourselves instead of using the `iab-tcf`
package because that package reads past the end of a truncated string without noticing, and
a bit read from beyond the end comes back set: a damaged header turns into full consent. Here
every field is bounds-checked, so callers fail closed.

Layout: IAB Tech Lab "Consent string and vendor list formats v2", TCF v2.2 - the Core String,
then optional dot-separated segments (Disclosed Vendors, Allowed Vendors, Publisher Purposes
Transparency and Consent), each base64url without padding.

:func:`decode` raises :class:`TCStringError` and never returns a :class:`TCString` for:
an empty string or segment; characters outside base64url; a Version other than 2; any field
that runs past the end of its segment; letters outside a-z; range entries ending before they
start, naming vendor 0 or going above MaxVendorId; RestrictionType 3 or purpose 0; unknown or
repeated segment types; non-zero bits after a segment's last field (zero padding is fine).
It also refuses TcfPolicyVersion below 4: 4 is TCF v2.2, the first policy that forbids
legitimate interest for purposes 3-6, and the spec says a new policy version invalidates
strings made under an older one, so their signals are not read under v2.2 rules. Versions 5
and up (TCF v2.3) keep the v2.2 layout and are accepted.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from itertools import chain

TC_STRING_VERSION = 2
MIN_POLICY_VERSION = 4  # TCF v2.2; see the module docstring

CONSENT_ONLY_PURPOSES = frozenset({1, 3, 4, 5, 6})
PURPOSE_COUNT = 24

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LETTER_COUNT = 26


class TCStringError(ValueError):
    """The TC string is missing, malformed or truncated; the message says where."""


class RestrictionType(IntEnum):
    """RestrictionType of a Publisher Restrictions entry; 3 is undefined and refused."""

    NOT_ALLOWED = 0
    REQUIRE_CONSENT = 1
    REQUIRE_LEGITIMATE_INTEREST = 2


class SegmentType(IntEnum):
    """The 3-bit SegmentType that opens every segment after the Core String."""

    DISCLOSED_VENDORS = 1
    ALLOWED_VENDORS = 2
    PUBLISHER_TC = 3


@dataclass(frozen=True)
class PublisherRestriction:
    """One purpose and restriction type, and the vendors it applies to.

    Vendor ids are kept as the merged inclusive ranges of the string rather than as a set: a
    short string can name ranges of 65535 ids under dozens of purposes, and expanding them
    would let one header allocate millions of integers.
    """

    purpose_id: int
    restriction_type: RestrictionType
    vendor_ranges: tuple[range, ...]

    def applies_to(self, vendor_id: int) -> bool:
        return any(vendor_id in ids for ids in self.vendor_ranges)


@dataclass(frozen=True)
class PublisherTC:
    """The Publisher Purposes Transparency and Consent segment."""

    purposes_consent: frozenset[int]
    purposes_legitimate_interest: frozenset[int]
    custom_purposes_consent: frozenset[int]
    custom_purposes_legitimate_interest: frozenset[int]


@dataclass(frozen=True)
class TCString:
    """A decoded TC string. Optional segments absent from the string are None."""

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purposes_consent: frozenset[int]
    purposes_legitimate_interest: frozenset[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: frozenset[int]
    vendor_legitimate_interests: frozenset[int]
    publisher_restrictions: tuple[PublisherRestriction, ...]
    disclosed_vendors: frozenset[int] | None = None
    allowed_vendors: frozenset[int] | None = None
    publisher_tc: PublisherTC | None = None

    def purpose_allowed(self, purpose_id: int, vendor_id: int) -> bool:
        """Whether the string gives `vendor_id` a legal basis for `purpose_id` (TCF v2.2).

        Names are the spec's ("Consent string and vendor list formats v2", The Core String):

        1. Publisher Restrictions Section, RestrictionType 0 (Purpose Flatly Not Allowed by
           Publisher) for this purpose and vendor: refused, whatever else the string says.
        2. Consent: the purpose's bit in PurposesConsent and the vendor's bit in the Vendor
           Consent Section are both set.
        3. Legitimate interest: the purpose's bit in PurposesLITransparency and the vendor's
           bit in the Vendor Legitimate Interest Section are both set. Never for purpose 1
           (always a consent purpose, RestrictionType notes) nor purposes 3, 4, 5 and 6 (TCF
           v2.2, policy version 4, removed legitimate interest for them).
        4. RestrictionType 1 (Require Consent) leaves only the consent basis; RestrictionType
           2 (Require Legitimate Interest) leaves only legitimate interest, so it refuses
           purposes 1 and 3-6. Both types on the same purpose and vendor contradict each other
           and are refused.

        Not checked, because it needs the Global Vendor List: whether the vendor registered
        the purpose, and under which basis or flexibility. PurposeOneTreatment does not waive
        consent for purpose 1: whether the publisher's country requires it is not for the
        gateway to decide.
        """
        restrictions = {
            restriction.restriction_type
            for restriction in self.publisher_restrictions
            if restriction.purpose_id == purpose_id and restriction.applies_to(vendor_id)
        }
        if RestrictionType.NOT_ALLOWED in restrictions:
            return False
        has_consent = self._has_consent(purpose_id, vendor_id)
        has_legitimate_interest = self._has_legitimate_interest(purpose_id, vendor_id)
        match (
            RestrictionType.REQUIRE_CONSENT in restrictions,
            RestrictionType.REQUIRE_LEGITIMATE_INTEREST in restrictions,
        ):
            case (True, True):
                return False
            case (True, False):
                return has_consent
            case (False, True):
                return has_legitimate_interest
            case _:
                return has_consent or has_legitimate_interest

    def _has_consent(self, purpose_id: int, vendor_id: int) -> bool:
        return purpose_id in self.purposes_consent and vendor_id in self.vendor_consents

    def _has_legitimate_interest(self, purpose_id: int, vendor_id: int) -> bool:
        return (
            purpose_id not in CONSENT_ONLY_PURPOSES
            and purpose_id in self.purposes_legitimate_interest
            and vendor_id in self.vendor_legitimate_interests
        )


def decode(tc_string: str) -> TCString:
    """Decode a TC string, or raise :class:`TCStringError` saying what is wrong with it."""
    if not tc_string:
        raise TCStringError("empty TC string")
    core, *optional = tc_string.split(".")
    decoded = _decode_core(_Bits(core, "core segment"))
    return dataclasses.replace(decoded, **_decode_optional_segments(optional))


class _Bits:
    """A cursor over one segment's bits that refuses to read past the end."""

    def __init__(self, segment: str, name: str) -> None:
        if not segment:
            raise TCStringError(f"{name} is empty")
        if not _BASE64URL.fullmatch(segment):
            raise TCStringError(f"{name} has characters outside base64url (A-Z a-z 0-9 - _)")
        self._name = name
        self._bits = _base64url_bits(segment)
        self._position = 0

    def read_int(self, width: int, field: str) -> int:
        bits = self._take(width, field)
        return int(bits, 2) if bits else 0

    def read_bool(self, field: str) -> bool:
        return self._take(1, field) == "1"

    def read_id_bits(self, width: int, field: str) -> frozenset[int]:
        """A bit field where the bit at index i stands for id i + 1."""
        bits = self._take(width, field)
        return frozenset(index + 1 for index, bit in enumerate(bits) if bit == "1")

    def read_letters(self, field: str) -> str:
        """Two 6-bit letters, a=0 .. z=25, as an upper-case code."""
        letters = [self.read_int(6, field) for _ in range(2)]
        if any(letter >= _LETTER_COUNT for letter in letters):
            raise TCStringError(f"{field} has a letter outside a-z: {letters}")
        return "".join(chr(ord("A") + letter) for letter in letters)

    def read_deciseconds(self, field: str) -> datetime:
        return _EPOCH + timedelta(milliseconds=100 * self.read_int(36, field))

    def expect_only_padding(self) -> None:
        # Encoders pad to whole base64 characters (the IAB one to 24 bits); anything but zeros
        # after the last field means the layout is not what we read, so nothing is trusted.
        if "1" in self._bits[self._position :]:
            raise TCStringError(
                f"{self._name} has unexpected non-zero bits after its last field "
                f"(bit {self._position} of {len(self._bits)})"
            )

    def _take(self, width: int, field: str) -> str:
        end = self._position + width
        if end > len(self._bits):
            raise TCStringError(
                f"truncated: {field} needs {width} bits at bit {self._position}, "
                f"{self._name} has {len(self._bits)}"
            )
        bits = self._bits[self._position : end]
        self._position = end
        return bits


def _base64url_bits(segment: str) -> str:
    # A segment of n characters carries exactly 6n bits; pad with 'A' (zero bits) to a whole
    # base64 quantum only to let the standard decoder run, then drop what the padding added.
    padded = segment + "A" * (-len(segment) % 4)
    raw = base64.urlsafe_b64decode(padded)
    return format(int.from_bytes(raw, "big"), f"0{len(raw) * 8}b")[: len(segment) * 6]


def _decode_core(bits: _Bits) -> TCString:
    version = bits.read_int(6, "Version")
    if version != TC_STRING_VERSION:
        raise TCStringError(f"unsupported version {version}: only TC string version 2 is decoded")
    # Keyword arguments are evaluated left to right, so this call reads the fields in the
    # order of the spec's Core String table.
    decoded = TCString(
        version=version,
        created=bits.read_deciseconds("Created"),
        last_updated=bits.read_deciseconds("LastUpdated"),
        cmp_id=bits.read_int(12, "CmpId"),
        cmp_version=bits.read_int(12, "CmpVersion"),
        consent_screen=bits.read_int(6, "ConsentScreen"),
        consent_language=bits.read_letters("ConsentLanguage"),
        vendor_list_version=bits.read_int(12, "VendorListVersion"),
        policy_version=_read_policy_version(bits),
        is_service_specific=bits.read_bool("IsServiceSpecific"),
        use_non_standard_texts=bits.read_bool("UseNonStandardTexts"),
        special_feature_opt_ins=bits.read_id_bits(12, "SpecialFeatureOptIns"),
        purposes_consent=bits.read_id_bits(PURPOSE_COUNT, "PurposesConsent"),
        purposes_legitimate_interest=bits.read_id_bits(PURPOSE_COUNT, "PurposesLITransparency"),
        purpose_one_treatment=bits.read_bool("PurposeOneTreatment"),
        publisher_cc=bits.read_letters("PublisherCC"),
        vendor_consents=_read_vendor_section(bits, "vendor consent section"),
        vendor_legitimate_interests=_read_vendor_section(
            bits, "vendor legitimate interest section"
        ),
        publisher_restrictions=_read_publisher_restrictions(bits),
    )
    bits.expect_only_padding()
    return decoded


def _read_policy_version(bits: _Bits) -> int:
    policy_version = bits.read_int(6, "TcfPolicyVersion")
    if policy_version < MIN_POLICY_VERSION:
        raise TCStringError(
            f"TcfPolicyVersion {policy_version} predates TCF v2.2 (policy version "
            f"{MIN_POLICY_VERSION}); consent must be collected again"
        )
    return policy_version


def _read_vendor_section(bits: _Bits, section: str) -> frozenset[int]:
    """MaxVendorId, IsRangeEncoding, then a bit field or range entries (same for OOB segments)."""
    max_vendor_id = bits.read_int(16, f"{section} MaxVendorId")
    if not bits.read_bool(f"{section} IsRangeEncoding"):
        return bits.read_id_bits(max_vendor_id, f"{section} BitField")
    ranges = _merge_spans(_read_range_entries(bits, section))
    if ranges and ranges[-1].stop - 1 > max_vendor_id:
        raise TCStringError(
            f"{section} names vendor {ranges[-1].stop - 1} above its MaxVendorId {max_vendor_id}"
        )
    return frozenset(chain.from_iterable(ranges))


def _read_range_entries(bits: _Bits, section: str) -> list[tuple[int, int]]:
    """NumEntries, then IsARange, StartOrOnlyVendorId [, EndVendorId]: inclusive (start, end)."""
    spans = []
    for _ in range(bits.read_int(12, f"{section} NumEntries")):
        is_a_range = bits.read_bool(f"{section} IsARange")
        start = bits.read_int(16, f"{section} StartOrOnlyVendorId")
        end = bits.read_int(16, f"{section} EndVendorId") if is_a_range else start
        if start == 0:
            raise TCStringError(f"{section} names vendor 0; vendor ids start at 1")
        if end < start:
            raise TCStringError(f"{section} has a range ending at {end} before its start {start}")
        spans.append((start, end))
    return spans


def _merge_spans(spans: list[tuple[int, int]]) -> tuple[range, ...]:
    # Merging first bounds the work by the number of distinct ids, however the entries overlap.
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple(range(start, end + 1) for start, end in merged)


def _read_publisher_restrictions(bits: _Bits) -> tuple[PublisherRestriction, ...]:
    section = "publisher restrictions section"
    # The same purpose and type may come in several entries; the official decoder unites them.
    spans_by_key: dict[tuple[int, RestrictionType], list[tuple[int, int]]] = {}
    for _ in range(bits.read_int(12, f"{section} NumPubRestrictions")):
        purpose_id = bits.read_int(6, f"{section} PurposeId")
        if purpose_id == 0:
            raise TCStringError(f"{section} restricts purpose 0; purpose ids start at 1")
        restriction_type = _restriction_type(bits.read_int(2, f"{section} RestrictionType"))
        spans = spans_by_key.setdefault((purpose_id, restriction_type), [])
        spans.extend(_read_range_entries(bits, section))
    return tuple(
        PublisherRestriction(purpose_id, restriction_type, _merge_spans(spans))
        for (purpose_id, restriction_type), spans in sorted(spans_by_key.items())
    )


def _restriction_type(value: int) -> RestrictionType:
    try:
        return RestrictionType(value)
    except ValueError:
        raise TCStringError(f"RestrictionType {value} is undefined") from None


_SEGMENT_FIELDS = {
    SegmentType.DISCLOSED_VENDORS: "disclosed_vendors",
    SegmentType.ALLOWED_VENDORS: "allowed_vendors",
    SegmentType.PUBLISHER_TC: "publisher_tc",
}


def _decode_optional_segments(segments: list[str]) -> dict[str, object]:
    """Segments after the core come in any order, at most once each."""
    fields: dict[str, object] = {}
    for position, segment in enumerate(segments, start=2):
        bits = _Bits(segment, f"segment {position}")
        segment_type = _segment_type(bits.read_int(3, "SegmentType"))
        field = _SEGMENT_FIELDS[segment_type]
        if field in fields:
            raise TCStringError(f"{field.replace('_', ' ')} segment appears twice")
        if segment_type is SegmentType.PUBLISHER_TC:
            fields[field] = _read_publisher_tc(bits)
        else:
            fields[field] = _read_vendor_section(bits, f"{field.replace('_', ' ')} segment")
        bits.expect_only_padding()
    return fields


def _segment_type(value: int) -> SegmentType:
    try:
        return SegmentType(value)
    except ValueError:
        raise TCStringError(f"SegmentType {value} is not a known optional segment") from None


def _read_publisher_tc(bits: _Bits) -> PublisherTC:
    purposes_consent = bits.read_id_bits(PURPOSE_COUNT, "PubPurposesConsent")
    purposes_legitimate_interest = bits.read_id_bits(PURPOSE_COUNT, "PubPurposesLITransparency")
    custom_count = bits.read_int(6, "NumCustomPurposes")
    return PublisherTC(
        purposes_consent=purposes_consent,
        purposes_legitimate_interest=purposes_legitimate_interest,
        custom_purposes_consent=bits.read_id_bits(custom_count, "CustomPurposesConsent"),
        custom_purposes_legitimate_interest=bits.read_id_bits(
            custom_count, "CustomPurposesLITransparency"
        ),
    )

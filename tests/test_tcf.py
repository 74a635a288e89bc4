"""policies.tcf against TC strings from the official IAB encoder, cut and damaged ones included.

tests/fixtures/tcf/strings.json is produced by generate.mjs beside it with @iabtechlabtcf/core:
each fixture holds what the official decoder read back, so these tests compare our decoder with
the IAB implementation rather than with itself.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC
from pathlib import Path

import pytest

from policies.tcf import (
    PublisherRestriction,
    RestrictionType,
    TCString,
    TCStringError,
    decode,
)

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "tcf" / "strings.json").read_text())
BY_NAME = {fixture["name"]: fixture for fixture in FIXTURES}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Bit offsets from the spec's Core String table: Version .. PublisherCC take 213 bits.
VENDOR_CONSENT_SECTION_START = 213


def fixture_ids(fixture: dict) -> str:
    return fixture["name"]


def decoded(name: str) -> TCString:
    return decode(BY_NAME[name]["tc_string"])


# --- bits, written here independently of the decoder, to damage strings on purpose ----------


def bits_of(segment: str) -> str:
    return "".join(format(ALPHABET.index(char), "06b") for char in segment)


def segment_of(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def field(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def range_entries(*entries: tuple[int, ...]) -> str:
    """NumEntries then entries: (id,) is a single vendor, (start, end) a range."""
    bits = field(len(entries), 12)
    for entry in entries:
        bits += ("1" if len(entry) == 2 else "0") + "".join(field(i, 16) for i in entry)
    return bits


def vendor_section(max_vendor_id: int, *entries: tuple[int, ...]) -> str:
    return field(max_vendor_id, 16) + "1" + range_entries(*entries)


CORE_HEADER = bits_of(BY_NAME["no_consents"]["tc_string"].split(".")[0])[
    :VENDOR_CONSENT_SECTION_START
]
EMPTY_VENDOR_SECTION = field(0, 16) + "0"
NO_RESTRICTIONS = field(0, 12)


def core(
    header: str = CORE_HEADER,
    vendor_consents: str = EMPTY_VENDOR_SECTION,
    vendor_legitimate_interests: str = EMPTY_VENDOR_SECTION,
    restrictions: str = NO_RESTRICTIONS,
) -> str:
    return segment_of(header + vendor_consents + vendor_legitimate_interests + restrictions)


def with_header_field(offset: int, width: int, value: int) -> str:
    return CORE_HEADER[:offset] + field(value, width) + CORE_HEADER[offset + width :]


def restriction(purpose_id: int, restriction_type: int, *entries: tuple[int, ...]) -> str:
    return field(purpose_id, 6) + field(restriction_type, 2) + range_entries(*entries)


# --- every fixture reads as the official decoder read it --------------------------------------


def as_plain_json(tc: TCString) -> dict:
    def ids(values: frozenset[int] | None) -> list[int] | None:
        return None if values is None else sorted(values)

    def timestamp(value) -> str:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    publisher_tc = tc.publisher_tc
    return {
        "version": tc.version,
        "created": timestamp(tc.created),
        "last_updated": timestamp(tc.last_updated),
        "cmp_id": tc.cmp_id,
        "cmp_version": tc.cmp_version,
        "consent_screen": tc.consent_screen,
        "consent_language": tc.consent_language,
        "vendor_list_version": tc.vendor_list_version,
        "policy_version": tc.policy_version,
        "is_service_specific": tc.is_service_specific,
        "use_non_standard_texts": tc.use_non_standard_texts,
        "special_feature_opt_ins": ids(tc.special_feature_opt_ins),
        "purposes_consent": ids(tc.purposes_consent),
        "purposes_legitimate_interest": ids(tc.purposes_legitimate_interest),
        "purpose_one_treatment": tc.purpose_one_treatment,
        "publisher_cc": tc.publisher_cc,
        "vendor_consents": ids(tc.vendor_consents),
        "vendor_legitimate_interests": ids(tc.vendor_legitimate_interests),
        "publisher_restrictions": [
            [r.purpose_id, int(r.restriction_type), [v for ids in r.vendor_ranges for v in ids]]
            for r in tc.publisher_restrictions
        ],
        "disclosed_vendors": ids(tc.disclosed_vendors),
        "allowed_vendors": ids(tc.allowed_vendors),
        "publisher_tc": publisher_tc
        and {
            "purposes_consent": ids(publisher_tc.purposes_consent),
            "purposes_legitimate_interest": ids(publisher_tc.purposes_legitimate_interest),
            "custom_purposes_consent": ids(publisher_tc.custom_purposes_consent),
            "custom_purposes_legitimate_interest": ids(
                publisher_tc.custom_purposes_legitimate_interest
            ),
        },
    }


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_ids)
def test_fixture_decodes_to_what_the_official_decoder_read(fixture):
    tc = decode(fixture["tc_string"])
    assert as_plain_json(tc) == fixture["expected"]
    assert tc.created.tzinfo is UTC


def test_fixtures_cover_every_encoding_the_official_encoder_chose():
    encodings = {
        (vector, encoding)
        for fixture in FIXTURES
        for vector, encoding in fixture["encoder"]["vendor_encodings"].items()
    }
    for vector in ("vendorConsents", "vendorLegitimateInterests", "vendorsDisclosed"):
        assert {(vector, "range"), (vector, "bitfield")} <= encodings
    segment_types = {s["type"] for f in FIXTURES for s in f["encoder"]["segments"]}
    assert segment_types == {"core", "vendorsDisclosed", "vendorsAllowed", "publisherTC"}
    restriction_types = {r[1] for f in FIXTURES for r in f["expected"]["publisher_restrictions"]}
    assert restriction_types == {0, 1, 2}


def test_deciseconds_are_kept():
    tc = decoded("metadata_and_special_features")
    assert tc.created.microsecond == 300_000
    assert tc.last_updated.isoformat() == "2024-06-01T23:59:59.900000+00:00"


# --- cut strings are refused, never read -------------------------------------------------------


def characters_needed(encoded_segment: dict) -> int:
    return -(-encoded_segment["bits"] // 6)


def cuts_into_encoded_bits(fixture: dict) -> list[str]:
    """Every prefix of the string that loses at least one bit the encoder wrote.

    A prefix ending right after a whole segment is a valid shorter string and one ending inside
    the encoder's zero padding loses nothing, so neither is listed; a prefix ending at a '.'
    leaves an empty segment and is.
    """
    cuts = []
    kept = ""
    for segment, encoded in zip(
        fixture["tc_string"].split("."), fixture["encoder"]["segments"], strict=True
    ):
        cuts += [kept + segment[:length] for length in range(characters_needed(encoded))]
        kept += segment + "."
    return [cut for cut in cuts if cut]


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_ids)
def test_every_cut_into_the_encoded_bits_raises(fixture):
    cuts = cuts_into_encoded_bits(fixture)
    assert len(cuts) > 40
    for cut in cuts:
        with pytest.raises(TCStringError):
            decode(cut)


@pytest.mark.parametrize(
    ("kept_bits", "message"),
    [
        (
            VENDOR_CONSENT_SECTION_START,
            "vendor consent section MaxVendorId needs 16 bits at bit 213",
        ),
        (230, "vendor legitimate interest section MaxVendorId needs 16 bits at bit 230"),
        (247, "publisher restrictions section NumPubRestrictions needs 12 bits at bit 247"),
        (258, "publisher restrictions section NumPubRestrictions needs 12 bits at bit 247"),
    ],
)
def test_cut_at_a_section_boundary_names_the_missing_field(kept_bits, message):
    # no_consents has empty bit fields: sections start at 213, 230 and 247 and end at 259.
    whole = bits_of(BY_NAME["no_consents"]["tc_string"].split(".")[0])
    with pytest.raises(TCStringError, match=message):
        decode(segment_of(whole[:kept_bits]))


@pytest.mark.parametrize("fixture", FIXTURES, ids=fixture_ids)
def test_dropping_only_the_encoders_zero_padding_reads_the_same(fixture):
    segments = fixture["tc_string"].split(".")
    trimmed = ".".join(
        segment[: characters_needed(encoded)]
        for segment, encoded in zip(segments, fixture["encoder"]["segments"], strict=True)
    )
    assert decode(trimmed) == decode(fixture["tc_string"])


# --- malformed strings are refused -------------------------------------------------------------


def test_the_bit_builder_makes_a_valid_string():
    tc = decode(core(vendor_consents=vendor_section(10, (2,), (4, 6))))
    assert tc.vendor_consents == {2, 4, 5, 6}


@pytest.mark.parametrize(
    ("tc_string", "message"),
    [
        ("", "empty TC string"),
        (".IAAA", "core segment is empty"),
        ("C", "truncated: Created needs 36 bits at bit 6, core segment has 6"),
        ("CP6_8UAP6+8UAAHADAENAqEgAAAAAAAAAAAAAAAAAAAA", "outside base64url"),
        ("CP6_8UAP6/8UAAHADAENAqEgAAAAAAAAAAAAAAAAAAAA", "outside base64url"),
        ("CP6_8UAP6_8UAAHADAENAqEgAAAAAAAAAAAAAAAAAAAA=", "outside base64url"),
        (" CP6_8UAP6_8UAAHADAENAqEgAAAAAAAAAAAAAAAAAAAA", "outside base64url"),
        ("CP6_8UAP6_8UAAHADAENAqEgAAAAAAAAAAAAAAAAAAAé", "outside base64url"),
        ("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", "unsupported version 1"),
        (segment_of(with_header_field(0, 6, 3)), "unsupported version 3"),
        (segment_of(with_header_field(0, 6, 0)), "unsupported version 0"),
        (core(header=with_header_field(132, 6, 2)), "TcfPolicyVersion 2 predates TCF v2.2"),
        (core(header=with_header_field(132, 6, 3)), "TcfPolicyVersion 3 predates TCF v2.2"),
        (core(header=with_header_field(108, 6, 26)), "ConsentLanguage has a letter outside"),
        (core(header=with_header_field(201, 6, 63)), "PublisherCC has a letter outside"),
    ],
)
def test_malformed_strings_raise(tc_string, message):
    with pytest.raises(TCStringError, match=message):
        decode(tc_string)


@pytest.mark.parametrize(
    ("vendor_consents", "restrictions", "message"),
    [
        (vendor_section(10, (5, 3)), NO_RESTRICTIONS, "range ending at 3 before its start 5"),
        (vendor_section(10, (4, 11)), NO_RESTRICTIONS, "vendor 11 above its MaxVendorId 10"),
        (vendor_section(10, (12,)), NO_RESTRICTIONS, "vendor 12 above its MaxVendorId 10"),
        (vendor_section(10, (0,)), NO_RESTRICTIONS, "names vendor 0"),
        (vendor_section(10, (0, 4)), NO_RESTRICTIONS, "names vendor 0"),
        (
            EMPTY_VENDOR_SECTION,
            field(1, 12) + restriction(2, 3, (4,)),
            "RestrictionType 3 is undefined",
        ),
        (
            EMPTY_VENDOR_SECTION,
            field(1, 12) + restriction(2, 1, (9, 8)),
            "publisher restrictions section has a range ending at 8 before its start 9",
        ),
        (
            EMPTY_VENDOR_SECTION,
            field(1, 12) + restriction(2, 1, (0,)),
            "publisher restrictions section names vendor 0",
        ),
        (
            EMPTY_VENDOR_SECTION,
            field(1, 12) + restriction(0, 0, (4,)),
            "restricts purpose 0",
        ),
        (
            EMPTY_VENDOR_SECTION,
            field(2, 12) + restriction(2, 1, (4,)),
            "truncated: publisher restrictions section PurposeId",
        ),
    ],
)
def test_inconsistent_sections_raise(vendor_consents, restrictions, message):
    tc_string = core(vendor_consents=vendor_consents, restrictions=restrictions)
    with pytest.raises(TCStringError, match=message):
        decode(tc_string)


NO_CONSENTS_CORE = BY_NAME["no_consents"]["tc_string"].split(".")[0]


@pytest.mark.parametrize(
    ("tc_string", "message"),
    [
        (NO_CONSENTS_CORE + ".", "segment 2 is empty"),
        (NO_CONSENTS_CORE + ".IAAA.", "segment 3 is empty"),
        (NO_CONSENTS_CORE + "..IAAA", "segment 2 is empty"),
        (NO_CONSENTS_CORE + ".AAAA", "SegmentType 0 is not a known optional segment"),
        (NO_CONSENTS_CORE + ".gAAA", "SegmentType 4 is not a known optional segment"),
        (NO_CONSENTS_CORE + ".4AAA", "SegmentType 7 is not a known optional segment"),
        (NO_CONSENTS_CORE + ".IAAA.IAAA", "disclosed vendors segment appears twice"),
        (NO_CONSENTS_CORE + ".I", "truncated: disclosed vendors segment MaxVendorId"),
        (NO_CONSENTS_CORE + ".YAAAAAAA", "truncated: PubPurposesLITransparency"),
        (NO_CONSENTS_CORE[:-1] + "B", "core segment has unexpected non-zero bits"),
        (NO_CONSENTS_CORE + ".IAAB", "segment 2 has unexpected non-zero bits"),
    ],
)
def test_malformed_segments_raise(tc_string, message):
    with pytest.raises(TCStringError, match=message):
        decode(tc_string)


def test_optional_segments_may_come_in_any_order():
    tc = decode(NO_CONSENTS_CORE + ".YAAAAAAAAAAA.IAAA")
    assert tc.disclosed_vendors == frozenset()
    assert tc.publisher_tc is not None
    assert tc.allowed_vendors is None


def test_restriction_ranges_stay_ranges():
    # Dozens of 65535-id ranges must not become millions of integers.
    entries = field(24, 12) + "".join(restriction(p, 0, (1, 65535)) for p in range(1, 25))
    tc = decode(core(restrictions=entries))
    assert len(tc.publisher_restrictions) == 24
    assert tc.publisher_restrictions[0].vendor_ranges == (range(1, 65536),)


# --- purpose_allowed: the TCF v2.2 rules -------------------------------------------------------


def with_fields(tc: TCString, **changes) -> TCString:
    return dataclasses.replace(tc, **changes)


def test_consent_needs_both_the_purpose_and_the_vendor_bit():
    tc = decoded("only_purposes_1_2_7")
    assert tc.purpose_allowed(1, vendor_id=1)
    assert tc.purpose_allowed(7, vendor_id=10)
    assert not tc.purpose_allowed(1, vendor_id=2)  # no vendor consent
    assert not tc.purpose_allowed(3, vendor_id=1)  # no purpose consent


def test_legitimate_interest_counts_for_purpose_2():
    tc = decoded("legitimate_interests")
    assert 2 not in tc.purposes_consent
    assert tc.purpose_allowed(2, vendor_id=2)
    assert not tc.purpose_allowed(2, vendor_id=1)  # vendor has consent only, not LI


@pytest.mark.parametrize("purpose_id", [1, 3, 4, 5, 6])
def test_legitimate_interest_never_counts_for_consent_only_purposes(purpose_id):
    # The official encoder clears these bits, so set them here to test the rule itself.
    tc = with_fields(
        decoded("legitimate_interests"),
        purposes_consent=frozenset(),
        purposes_legitimate_interest=frozenset(range(1, 12)),
    )
    assert not tc.purpose_allowed(purpose_id, vendor_id=2)
    assert tc.purpose_allowed(7, vendor_id=2)


def test_restriction_type_0_forbids_the_purpose_despite_consent():
    tc = decoded("publisher_restrictions")
    assert not tc.purpose_allowed(3, vendor_id=1)
    assert not tc.purpose_allowed(3, vendor_id=10)
    assert tc.purpose_allowed(3, vendor_id=2)
    # The encoder wrote vendors 5, 8 and 10 as the range 5-10.
    assert not tc.purpose_allowed(5, vendor_id=8)
    assert tc.purpose_allowed(5, vendor_id=4)


def test_restriction_type_1_leaves_only_consent():
    tc = decoded("publisher_restrictions")
    assert tc.purpose_allowed(2, vendor_id=25)
    without_consent = with_fields(tc, vendor_consents=tc.vendor_consents - {25})
    assert 25 in without_consent.vendor_legitimate_interests
    assert not without_consent.purpose_allowed(2, vendor_id=25)
    assert without_consent.purpose_allowed(2, vendor_id=4)  # unrestricted: LI still counts


def test_restriction_type_2_leaves_only_legitimate_interest():
    tc = decoded("publisher_restrictions")
    assert tc.purpose_allowed(7, vendor_id=3)
    without_li = with_fields(tc, vendor_legitimate_interests=tc.vendor_legitimate_interests - {3})
    assert 3 in without_li.vendor_consents
    assert not without_li.purpose_allowed(7, vendor_id=3)


def test_restriction_type_2_on_a_consent_only_purpose_refuses():
    tc = with_fields(
        decoded("all_consents"),
        publisher_restrictions=(
            PublisherRestriction(4, RestrictionType.REQUIRE_LEGITIMATE_INTEREST, (range(1, 3),)),
        ),
    )
    assert not tc.purpose_allowed(4, vendor_id=1)
    assert tc.purpose_allowed(4, vendor_id=3)


def test_contradictory_restrictions_refuse():
    tc = with_fields(
        decoded("all_consents"),
        publisher_restrictions=(
            PublisherRestriction(2, RestrictionType.REQUIRE_CONSENT, (range(1, 2),)),
            PublisherRestriction(2, RestrictionType.REQUIRE_LEGITIMATE_INTEREST, (range(1, 2),)),
        ),
    )
    assert not tc.purpose_allowed(2, vendor_id=1)
    assert tc.purpose_allowed(2, vendor_id=2)


def test_unknown_purposes_and_vendors_are_refused():
    tc = decoded("all_consents")
    assert not tc.purpose_allowed(12, vendor_id=1)
    assert not tc.purpose_allowed(0, vendor_id=1)
    assert not tc.purpose_allowed(1, vendor_id=999)

"""Limits as IT writes them, checked with the ``limits`` parser, and the header fields the
proxy reads (a vendor's Retry-After) and writes (RateLimit-Policy, RateLimit)."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from limits import parse

from catalog.rate_limit_terms import GrantLimitsError, grant_limits, rate_list, store_outage
from gateway.rate_limits.fields import (
    DEFAULT_VENDOR_PAUSE,
    MAX_VENDOR_PAUSE,
    limit_fields,
    vendor_pause,
)


def test_limits_are_kept_in_one_spelling_shortest_window_first():
    given = ["10000 per day", " 100/minute", "1000/hour", "100/1 minute", "5/2 seconds"]
    assert rate_list(given) == ["5/2 seconds", "100/minute", "1000/hour", "10000/day"]
    assert rate_list("1000/hour, 10/second") == ["10/second", "1000/hour"]
    assert rate_list("") == [] and rate_list([]) == []


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("100/fortnight", "'100/fortnight' is not a rate limit: write calls per unit"),
        ("many/minute", "is not a rate limit"),
        ("0/minute", "allows no call at all"),
        (100, "must be a rate limit like 100/minute"),
        (["1/second"] * 11, "at most 10 limits"),
    ],
)
def test_a_limit_that_is_not_one_is_refused_with_how_to_write_it(given, said):
    with pytest.raises(ValueError, match=said):
        rate_list(given)


def test_a_grants_limits_name_the_scope_at_fault():
    assert grant_limits({"per_app": "100/minute", "per_department": []}) == {
        "per_app": ["100/minute"]
    }
    assert grant_limits(None) == {}
    with pytest.raises(GrantLimitsError) as wrong:
        grant_limits({"per_department": ["1000/hour", "lots/day"]})
    assert wrong.value.pointer == "/per_department" and "'lots/day'" in str(wrong.value)
    with pytest.raises(GrantLimitsError) as unknown:
        grant_limits({"per_person": "1/day"})
    assert unknown.value.pointer == "/per_person"
    with pytest.raises(GrantLimitsError):
        grant_limits("100/minute")


def test_store_outage_is_open_or_closed():
    assert store_outage("closed") == "closed"
    with pytest.raises(ValueError, match="open or closed"):
        store_outage("ajar")


def test_the_ratelimit_fields_follow_the_drafts_syntax():
    fields = limit_fields("app", parse("100/minute"), 41, time.time() + 11.2)
    assert fields == {"RateLimit-Policy": '"app";q=100;w=60', "RateLimit": '"app";r=41;t=12'}
    used_up = limit_fields("department", parse("5/hour"), 0, time.time() - 1)
    assert used_up["RateLimit"] == '"department";r=0;t=1'  # never 0 s while refused


def test_a_vendors_retry_after_is_read_as_seconds_or_a_date():
    assert vendor_pause([("Retry-After", "7")]) == 7
    assert vendor_pause([("retry-after", "7")]) == 7
    in_a_minute = formatdate(time.time() + 60, usegmt=True)
    assert 58 <= vendor_pause([("Retry-After", in_a_minute)]) <= 61
    assert vendor_pause([]) == DEFAULT_VENDOR_PAUSE
    assert vendor_pause([("Retry-After", "soon")]) == DEFAULT_VENDOR_PAUSE
    assert vendor_pause([("Retry-After", "0")]) == 1
    assert vendor_pause([("Retry-After", "99999999")]) == MAX_VENDOR_PAUSE
    past = formatdate(time.time() - 60, usegmt=True)
    assert vendor_pause([("Retry-After", past)]) == 1

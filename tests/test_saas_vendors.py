"""The shadow-IT vendor dataset and its index: the data is well-formed and honest (no host
claimed twice or claimed for a whole shared platform, real fideslang categories, real
connectors), and lookups by host and by merchant name find what a scan would see in logs
and on statements, and nothing else.
"""

from __future__ import annotations

import dataclasses

import jsonschema
import pytest
from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.registry import SPECS_DIR
from connectors.saas_vendors import (
    SHARED_DOMAINS,
    DatasetError,
    Vendor,
    VendorIndex,
    _document,
    load_vendors,
    merchant_words,
    registrable_domain,
    schema,
    sources,
)

INDEX = VendorIndex.default()
VENDORS = load_vendors()
ALL_HOSTS = [
    (vendor, kind, host)
    for vendor in VENDORS
    for kind in ("web", "app", "api")
    for host in vendor.hosts(kind)
]

#: Words that are vendor names but also everyday words or names on statements: a vendor
#: called this must be found by something more distinctive.
COMMON_WORDS = {
    "ada", "adjust", "affinity", "airship", "amplitude", "apollo", "aspire", "batch", "branch",
    "buffer", "census", "clay", "close", "conductor", "convert", "copper", "cordial", "courier",
    "delighted", "doodle", "drift", "drip", "emma", "folk", "front", "funnel", "gladly", "gong",
    "grin", "groove", "heap", "hunter", "impact", "insider", "instantly", "intercom", "kit",
    "later", "litmus", "loom", "mention", "moz", "mutiny", "nimble", "nutshell", "outreach",
    "pitch", "plausible", "podium", "postmark", "postscript", "qualified", "reply", "seamless",
    "segment", "seismic", "singular", "smile", "splash", "stamped", "streak", "tally", "tune",
    "vero", "wix", "x",
}  # fmt: skip


def make_vendor(slug: str, *, web=(), app=(), api=(), merchants=()) -> Vendor:
    return Vendor(
        slug=slug,
        name=slug.title(),
        category="email",
        web_domains=tuple(web),
        app_domains=tuple(app),
        api_domains=tuple(api),
        merchant_names=tuple(merchants),
        data_categories=(),
        connector=None,
    )


# --- the dataset ------------------------------------------------------------------------


def test_dataset_is_valid_against_its_schema():
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(_document(), schema())


def test_the_dataset_has_at_least_300_vendors_with_unique_slugs():
    slugs = [vendor.slug for vendor in VENDORS]
    assert len(slugs) >= 300
    assert len(set(slugs)) == len(slugs)


def test_every_category_used_is_documented_at_the_top_of_the_dataset():
    header = (SPECS_DIR.parent / "saas_vendors" / "vendors.yaml").read_text().split("\nsources:")[0]
    categories = set(schema()["properties"]["vendors"]["items"]["properties"]["category"]["enum"])
    assert {vendor.category for vendor in VENDORS} <= categories
    for category in categories:
        assert f"#   {category} " in header


def test_the_three_first_vendors_keep_the_hosts_and_merchant_names_samples_rely_on():
    mailchimp, hubspot, hotjar = (
        INDEX.vendors[slug] for slug in ("mailchimp", "hubspot", "hotjar")
    )
    assert {"mailchimp.com", "admin.mailchimp.com", "login.mailchimp.com", "api.mailchimp.com"} <= {
        host for kind in ("web", "app", "api") for host in mailchimp.hosts(kind)
    }
    assert {"MAILCHIMP", "INTUIT MAILCHIMP"} <= set(mailchimp.merchant_names)
    assert {"hubspot.com", "app.hubspot.com", "api.hubapi.com", "hubapi.com"} <= {
        host for kind in ("web", "app", "api") for host in hubspot.hosts(kind)
    }
    assert "HUBSPOT" in hubspot.merchant_names
    assert {"hotjar.com", "insights.hotjar.com", "api.hotjar.io", "hotjar.io"} <= {
        host for kind in ("web", "app", "api") for host in hotjar.hosts(kind)
    }
    assert "HOTJAR" in hotjar.merchant_names


def test_no_host_is_claimed_twice():
    hosts = [host for _, _, host in ALL_HOSTS]
    assert len(set(hosts)) == len(hosts)


def test_no_vendor_claims_a_public_suffix_or_a_whole_shared_platform():
    for vendor, _, host in ALL_HOSTS:
        domain = registrable_domain(host)
        assert domain is not None, (vendor.slug, host)
        assert host.endswith(domain)
        assert not (host == domain and domain in SHARED_DOMAINS), (vendor.slug, host)


def test_shared_platform_hosts_are_the_vendors_own():
    assert INDEX.by_host("storage.googleapis.com") is None
    assert INDEX.by_host("d111111abcdef8.cloudfront.net") is None
    assert INDEX.by_host("www.facebook.com") is None
    assert INDEX.by_host("www.linkedin.com") is None
    assert INDEX.by_host("bucket.s3.amazonaws.com") is None


def test_every_data_category_is_in_fideslangs_default_taxonomy():
    known = {category.fides_key for category in DEFAULT_TAXONOMY.data_category}
    for name, categories in _document()["data_category_sets"].items():
        assert set(categories) <= known, name
    for vendor in VENDORS:
        assert set(vendor.data_categories) <= known, vendor.slug


def test_every_connector_named_exists():
    connectors = {path.stem for path in SPECS_DIR.glob("*.yaml")}
    named = {vendor.connector for vendor in VENDORS if vendor.connector}
    assert named <= connectors
    assert named == connectors  # every Gatehouse connector is a known vendor too


def test_connector_hosts_are_the_vendors_api_or_app():
    assert INDEX.by_host("api.hubapi.com").vendor.connector == "hubspot"
    assert INDEX.by_host("us21.api.mailchimp.com").vendor.connector == "mailchimp"
    assert INDEX.by_host("api.sendgrid.com").vendor.connector == "sendgrid"
    assert INDEX.by_host("api.brevo.com").vendor.connector == "brevo"
    assert INDEX.by_host("a.klaviyo.com").vendor.connector == "klaviyo"
    assert INDEX.by_host("api.segment.io").vendor.connector == "segment"
    assert INDEX.by_host("api.eu.intercom.io").vendor.connector == "intercom"
    assert INDEX.by_host("graph.facebook.com").vendor.connector == "meta"
    assert INDEX.by_host("acme.my.salesforce.com").vendor.connector == "salesforce"
    assert INDEX.by_host("www.google-analytics.com").vendor.connector == "ga4"


def test_single_word_merchant_names_are_distinctive():
    for vendor in VENDORS:
        for name in vendor.merchant_names:
            words = merchant_words(name)
            if len(words) == 1:
                assert len(words[0]) >= 4, (vendor.slug, name)
                assert words[0] not in COMMON_WORDS, (vendor.slug, name)


def test_sources_credit_a_licence_each():
    assert sources()
    assert all(source["licence"] for source in sources())


# --- the loader refuses a dataset that contradicts itself -------------------------------


@pytest.mark.parametrize(
    "vendors, message",
    [
        (
            [make_vendor("a", web=["a.example.com"]), make_vendor("b", api=["a.example.com"])],
            "claimed by both a and b",
        ),
        ([make_vendor("a", web=["a.com"], app=["a.com"])], "claimed by both a and a"),
        ([make_vendor("a", api=["googleapis.com"])], "shared"),
        ([make_vendor("a", web=["cloudfront.net"])], "shared"),
        ([make_vendor("a", web=["co.uk"])], "public suffix"),
        ([make_vendor("a", web=["Example.COM"])], "normal host name"),
        ([make_vendor("a", web=["a.com"]), make_vendor("a", web=["b.com"])], "slug"),
        (
            [make_vendor("a", merchants=["ACME"]), make_vendor("b", merchants=["acme."])],
            "claimed by both",
        ),
        ([make_vendor("a", merchants=["**"])], "no words"),
    ],
)
def test_the_index_refuses_contradictions(vendors, message):
    with pytest.raises(DatasetError, match=message):
        VendorIndex(vendors)


def test_a_vendor_may_claim_its_own_host_under_a_shared_platform():
    index = VendorIndex([make_vendor("a", api=["a.googleapis.com"])])
    assert index.by_host("eu.a.googleapis.com").vendor.slug == "a"
    assert index.by_host("b.googleapis.com") is None


# --- host matching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, slug, kind, domain",
    [
        ("hubspot.com", "hubspot", "web", "hubspot.com"),
        ("www.hubspot.com", "hubspot", "web", "hubspot.com"),
        ("app.hubspot.com", "hubspot", "app", "hubspot.com"),
        ("api.hubapi.com", "hubspot", "api", "hubapi.com"),
        ("forms.hubapi.com", "hubspot", "api", "hubapi.com"),
        ("us6.api.mailchimp.com", "mailchimp", "api", "mailchimp.com"),
        ("login.mailchimp.com", "mailchimp", "app", "mailchimp.com"),
        ("insights.hotjar.com", "hotjar", "app", "hotjar.com"),
        ("script.hotjar.com", "hotjar", "web", "hotjar.com"),
        ("googleads.googleapis.com", "google-ads", "api", "googleapis.com"),
        ("ads.google.com", "google-ads", "app", "google.com"),
        ("adsapi.snapchat.com", "snapchat-ads", "api", "snapchat.com"),
        ("api.linkedin.com", "linkedin", "api", "linkedin.com"),
        ("ui.ads.microsoft.com", "microsoft-advertising", "app", "microsoft.com"),
        ("about.ads.microsoft.com", "microsoft-advertising", "web", "microsoft.com"),
        ("campaign.api.bingads.microsoft.com", "microsoft-advertising", "api", "microsoft.com"),
        ("api.criteo.com", "criteo", "api", "criteo.com"),
        ("www.eventbrite.co.uk", "eventbrite", "web", "eventbrite.co.uk"),
        ("acme.tt.omtrdc.net", "adobe-target", "web", "omtrdc.net"),
        ("acme.sc.omtrdc.net", "adobe-analytics", "web", "omtrdc.net"),
    ],
)
def test_hosts_match_their_vendor_and_kind(host, slug, kind, domain):
    match = INDEX.by_host(host)
    assert (match.vendor.slug, match.kind, match.domain) == (slug, kind, domain)


def test_the_longest_listed_suffix_wins_across_vendors():
    index = VendorIndex(
        [make_vendor("parent", web=["example.com"]), make_vendor("child", api=["api.example.com"])]
    )
    assert index.by_host("x.api.example.com").vendor.slug == "child"
    assert index.by_host("api.example.com").kind == "api"
    assert index.by_host("www.example.com").vendor.slug == "parent"
    assert index.by_host("notapi.example.com").vendor.slug == "parent"


@pytest.mark.parametrize(
    "written",
    [
        "API.HubAPI.com.",
        "api.hubapi.com:443",
        " api.hubapi.com\n",
        "Api.Hubapi.Com.:8443",
        "API.HUBAPI.COM",
    ],
)
def test_hosts_match_whatever_the_case_port_or_trailing_dot(written):
    match = INDEX.by_host(written)
    assert (match.vendor.slug, match.kind, match.domain) == ("hubspot", "api", "hubapi.com")


def test_unicode_hosts_match_their_idna_form():
    index = VendorIndex([make_vendor("books", web=["xn--bcher-kva.de"])])
    assert index.by_host("shop.BÜCHER.de").domain == "xn--bcher-kva.de"
    assert index.by_host("bücher。de").vendor.slug == "books"
    assert index.by_host("xn--bcher-kva.de").vendor.slug == "books"
    assert registrable_domain("www.bücher.de") == "xn--bcher-kva.de"


@pytest.mark.parametrize(
    "host",
    [
        "",
        ".",
        "hubspot",
        "localhost",
        "10.0.0.1",
        "10.0.0.1:443",
        "::1",
        "[2001:db8::1]:443",
        "2001:db8::1",
        "com",
        "co.uk",
        "hubspot.com.evil.example",
        "nothubspot.com",
        "hubapi.com.attacker.net",
        "api.hubapi.com:https",
        "a..hubspot.com",
        "-bad-.hubspot.com",
        "unknown-vendor.example",
    ],
)
def test_what_is_not_a_vendors_host_matches_nothing(host):
    assert INDEX.by_host(host) is None


def test_registrable_domain():
    assert registrable_domain("api.eu1.hubapi.com") == "hubapi.com"
    assert registrable_domain("WWW.Example.CO.UK.:443") == "example.co.uk"
    assert registrable_domain("10.0.0.1") is None
    assert registrable_domain("localhost") is None
    assert registrable_domain("co.uk") is None


# --- merchant matching ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, slug",
    [
        ("MAILCHIMP", "mailchimp"),
        ("INTUIT *MAILCHIMP ATLANTA GA", "mailchimp"),
        ("PAYPAL *HOTJAR 4029357733", "hotjar"),
        ("HOTJAR4029357733", "hotjar"),
        ("SQ *HUBSPOT", "hubspot"),
        ("HUBSPOT INC. 888-482-7768 MA", "hubspot"),
        ("FACEBK *2XYZ7ABCD2 fb.me/ads CA", "meta-ads"),
        ("GOOGLE *ADS1234567890 cc@google.com", "google-ads"),
        ("Google Ads 8456", "google-ads"),
        ("LINKEDIN 7031234 CA", "linkedin"),
        ("TWILIO SENDGRID", "sendgrid"),
        ("TWILIO INC SAN FRANCISCO", "twilio"),
        ("DRIP.COM MINNEAPOLIS", "drip"),
        ("ON24 INC", "on24"),
        ("99DESIGNS.COM", "99designs"),
        ("DROPBOX SIGN", "dropbox-sign"),
        ("www.later.com", "later"),
    ],
)
def test_statement_lines_match_their_vendor(line, slug):
    assert INDEX.by_merchant(line).slug == slug


@pytest.mark.parametrize(
    "line",
    [
        "",
        "STARBUCKS 1234",
        "HUBSPOTTER CAFE",
        "MAILCHIMPANZEE",
        "DRIP COFFEE ROASTERS",
        "LATER GATOR",
        "FRONT ROW SEATS",
        "SEGMENT FITNESS",
        "BUFFER ZONE CAFE",
        "CLOSE BROTHERS",
        "COPPER KETTLE",
        "HUNTER BOOTS",
        "INTERCOM SYSTEMS",
        "SHOP ON 24TH ST",
        "AMAZON MKTPLACE PMTS",
        "GOOGLE *YOUTUBE PREMIUM",
        "GOOGLE STORAGE",
        "TWITTERING BIRDS",
        "DROPBOX",
    ],
)
def test_other_statement_lines_match_nothing(line):
    assert INDEX.by_merchant(line) is None


def test_the_longest_merchant_name_wins():
    index = VendorIndex(
        [make_vendor("parent", merchants=["ACME"]), make_vendor("child", merchants=["ACME MAIL"])]
    )
    assert index.by_merchant("PAYPAL *ACME MAIL 123").slug == "child"
    assert index.by_merchant("ACME 123").slug == "parent"


# --- never raises -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_raises(text):
    match = INDEX.by_host(text)
    assert match is None or match.vendor.slug in INDEX.vendors
    vendor = INDEX.by_merchant(text)
    assert vendor is None or vendor.slug in INDEX.vendors
    registrable_domain(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([host for _, _, host in ALL_HOSTS]),
)
def test_any_subdomain_of_a_listed_host_belongs_to_that_vendor_or_a_longer_claim(labels, host):
    owner = INDEX.by_host(host)
    match = INDEX.by_host(".".join(labels) + "." + host)
    assert match is not None
    if match.vendor != owner.vendor:  # only a more specific listing may take it over
        longer = [
            h
            for v in VENDORS
            for k in ("web", "app", "api")
            for h in v.hosts(k)
            if v == match.vendor
        ]
        assert any(h.endswith("." + host) for h in longer)


def test_vendor_fields_are_unchanged():
    assert [field.name for field in dataclasses.fields(Vendor)] == [
        "slug",
        "name",
        "category",
        "web_domains",
        "app_domains",
        "api_domains",
        "merchant_names",
        "data_categories",
        "connector",
    ]

"""The dataset of marketing and sales SaaS vendors that shadow-IT discovery matches
egress evidence against, and the index that finds a vendor by host name or by the
merchant name on a card statement.

A vendor lists the hosts it is reached at, by what they serve (website, app, API). A host
covers its subdomains, and the longest listed suffix of a host wins: ``hubspot.com``
(web) owns ``www.hubspot.com`` while ``app.hubspot.com`` (app) owns ``app.hubspot.com``
and what is under it. Hosts are compared after normalising what logs write differently
(case, a trailing dot, a port, Unicode names). The registrable domain (the Public Suffix
List's "eTLD+1", from tldextract's bundled snapshot, so nothing is fetched at run time)
is reported with each match and guards the dataset: a vendor may not claim a public
suffix, nor the whole of a shared platform such as ``googleapis.com``, whose other tenants
would then be reported as that vendor.

A scan calls ``by_host`` once per log line, so the index answers from a dictionary of
listed hosts and remembers the answer for the hosts it has seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

import jsonschema
import tldextract
import yaml

HostKind = Literal["web", "app", "api"]
KINDS: tuple[HostKind, ...] = ("web", "app", "api")

#: Registrable domains that many parties serve from (cloud and CDN platforms) or that
#: everyone visits for other reasons (search, mail, social networks): a vendor may list a
#: host of its own under them (``googleads.googleapis.com``), never the domain itself.
SHARED_DOMAINS = frozenset(
    {
        "akamai.net",
        "akamaiedge.net",
        "akamaihd.net",
        "akamaized.net",
        "amazon.com",
        "amazonaws.com",
        "apple.com",
        "appspot.com",
        "azure.com",
        "azureedge.net",
        "azurewebsites.net",
        "bing.com",
        "cloudflare.com",
        "cloudflare.net",
        "cloudfront.net",
        "doubleclick.net",
        "edgekey.net",
        "edgesuite.net",
        "facebook.com",
        "fastly.net",
        "firebaseapp.com",
        "github.io",
        "google.com",
        "googleapis.com",
        "googleusercontent.com",
        "gstatic.com",
        "herokuapp.com",
        "instagram.com",
        "linkedin.com",
        "live.com",
        "microsoft.com",
        "office.com",
        "pinterest.com",
        "reddit.com",
        "snapchat.com",
        "tiktok.com",
        "twitter.com",
        "vercel.app",
        "windows.net",
        "x.com",
        "youtube.com",
    }
)

_HOST_CACHE_SIZE = 1 << 16
#: libyaml's loader when PyYAML was built with it: the dataset loads several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DatasetError(ValueError):
    """The vendor dataset contradicts itself (a host or merchant name claimed twice, a
    host that is not a vendor's own)."""


@dataclass(frozen=True)
class Vendor:
    slug: str
    name: str
    category: str
    web_domains: tuple[str, ...]
    app_domains: tuple[str, ...]
    api_domains: tuple[str, ...]
    merchant_names: tuple[str, ...]
    data_categories: tuple[str, ...]
    connector: str | None

    def hosts(self, kind: HostKind) -> tuple[str, ...]:
        return getattr(self, f"{kind}_domains")


@dataclass(frozen=True)
class VendorMatch:
    vendor: Vendor
    #: What the matched host serves: the vendor's API, its app, or its website.
    kind: HostKind
    #: The registrable domain of the host that matched.
    domain: str


_extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registrable_domain(host: str) -> str | None:
    """``API.eu1.HubAPI.com.:443`` → ``hubapi.com``; None for IP addresses, single labels,
    public suffixes and hosts under no known public suffix."""
    normal = normalise_host(host)
    if normal is None:
        return None
    return _extract(normal).top_domain_under_public_suffix or None


def normalise_host(host: str) -> str | None:
    """The host as the dataset writes it: lower case, ASCII (IDNA), no port, no trailing
    dot. None for what is not a domain name: IP addresses, single labels, garbage."""
    host = host.strip().lower()
    if host.startswith("["):
        return None  # a bracketed IPv6 address, with or without a port
    if ":" in host:
        host, _, port = host.partition(":")
        if not port.isdigit():
            return None  # a bare IPv6 address, or not a host at all
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            return None
    if _HOST.fullmatch(host) is None or host[host.rfind(".") + 1 :].isdigit():
        return None
    return host


_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
#: Two labels or more; the last is not all digits (checked apart), so IPv4 is refused.
_HOST = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")


def load_vendors() -> list[Vendor]:
    """The shipped dataset, validated against its JSON schema."""
    return [_vendor(entry) for entry in _document()["vendors"]]


def sources() -> list[dict]:
    """Where the dataset's facts come from, and their licences."""
    return [dict(source) for source in _document()["sources"]]


@cache
def _document() -> dict:
    text = resources.files(__package__).joinpath("vendors.yaml").read_text("utf-8")
    document = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader, C or Python)
    jsonschema.validate(document, schema())
    return document


@cache
def schema() -> dict:
    return json.loads(resources.files(__package__).joinpath("vendors.schema.json").read_text())


def _vendor(entry: dict) -> Vendor:
    domains = entry["domains"]
    return Vendor(
        slug=entry["slug"],
        name=entry["name"],
        category=entry["category"],
        web_domains=tuple(domains.get("web", ())),
        app_domains=tuple(domains.get("app", ())),
        api_domains=tuple(domains.get("api", ())),
        merchant_names=tuple(entry.get("merchant_names", ())),
        data_categories=tuple(entry["data_categories"]),
        connector=entry.get("connector"),
    )


class VendorIndex:
    """Looks vendors up by host name (longest listed suffix wins) and by merchant name."""

    def __init__(self, vendors: Iterable[Vendor]) -> None:
        self.vendors: dict[str, Vendor] = {}
        for vendor in vendors:
            if vendor.slug in self.vendors:
                raise DatasetError(f"two vendors have the slug {vendor.slug!r}")
            self.vendors[vendor.slug] = vendor
        self._hosts = _host_table(self.vendors.values())
        self._merchants = _merchant_table(self.vendors.values())
        self._longest_merchant = max((len(words) for words in self._merchants), default=0)
        self._cached_match = lru_cache(maxsize=_HOST_CACHE_SIZE)(self._match_host)

    @classmethod
    @cache
    def default(cls) -> VendorIndex:
        """The index of the shipped dataset, built once per process."""
        return cls(load_vendors())

    def by_host(self, host: str) -> VendorMatch | None:
        """The vendor a host name belongs to, and what the host serves; None when no
        vendor lists the host or a parent domain of it."""
        return self._cached_match(host)

    def _match_host(self, host: str) -> VendorMatch | None:
        normal = normalise_host(host)
        if normal is None:
            return None
        start = 0
        while True:
            found = self._hosts.get(normal[start:])
            if found is not None:
                return found
            start = normal.find(".", start) + 1
            if start == 0:
                return None

    def by_merchant(self, text: str) -> Vendor | None:
        """The vendor whose merchant name appears, as whole words, in a statement line
        (the longest name wins): ``PAYPAL *HOTJAR 4029357733`` → Hotjar."""
        words = merchant_words(text)
        for size in range(min(self._longest_merchant, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                vendor = self._merchants.get(words[start : start + size])
                if vendor is not None:
                    return vendor
        return None


def _host_table(vendors: Iterable[Vendor]) -> dict[str, VendorMatch]:
    """Each listed host and the answer for it and its subdomains. A listed host is at or
    under its registrable domain, so its subdomains share that domain: the answer is
    made once here, not per lookup."""
    table: dict[str, VendorMatch] = {}
    for vendor in vendors:
        for kind in KINDS:
            for host in vendor.hosts(kind):
                domain = _claimable_domain(vendor, host)
                if host in table:
                    other = table[host].vendor.slug
                    raise DatasetError(f"{host} is claimed by both {other} and {vendor.slug}")
                table[host] = VendorMatch(vendor, kind, domain)
    return table


def _claimable_domain(vendor: Vendor, host: str) -> str:
    if normalise_host(host) != host:
        raise DatasetError(f"{vendor.slug}: {host!r} is not written as a normal host name")
    domain = registrable_domain(host)
    if domain is None:
        raise DatasetError(f"{vendor.slug}: {host} is a public suffix or not a domain name")
    if host == domain and domain in SHARED_DOMAINS:
        raise DatasetError(f"{vendor.slug}: {host} is shared; list the vendor's own hosts under it")
    return domain


def _merchant_table(vendors: Iterable[Vendor]) -> dict[tuple[str, ...], Vendor]:
    table: dict[tuple[str, ...], Vendor] = {}
    for vendor in vendors:
        for name in vendor.merchant_names:
            words = merchant_words(name)
            if not words:
                raise DatasetError(f"{vendor.slug}: merchant name {name!r} has no words")
            if table.get(words, vendor) is not vendor:
                raise DatasetError(
                    f"{name!r} is claimed by both {table[words].slug} and {vendor.slug}"
                )
            table[words] = vendor
    return table


def merchant_words(text: str) -> tuple[str, ...]:
    """A statement line as lower-case words: punctuation separates words, and a long
    number glued to a word is split off, since statements append reference numbers
    (``GOOGLE*ADS1234567`` → ``google ads 1234567``, while ``ON24`` stays one word)."""
    words: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        glued = _GLUED_NUMBER.fullmatch(token)
        words.extend(glued.groups() if glued else (token,))
    return tuple(words)


_TOKEN = re.compile(r"[a-z0-9]+")
_GLUED_NUMBER = re.compile(r"([a-z0-9]*[a-z])([0-9]{4,})")

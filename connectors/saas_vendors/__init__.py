"""The dataset of marketing and sales SaaS vendors that shadow-IT discovery matches
egress evidence against, and the index that finds a vendor by host name or by the
merchant name on a card statement.

Hosts are compared by their registrable domain (the Public Suffix List's "eTLD+1",
from tldextract's bundled snapshot, so nothing is fetched at run time): a vendor that
lists ``hubspot.com`` owns ``app.eu1.hubspot.com`` too. A vendor that lists a longer host
(``api.mailchimp.com``) is matched on that host and its subdomains, which is how the
index tells an API call from a visit to the website.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import jsonschema
import tldextract
import yaml

HostKind = Literal["web", "app", "api"]
KINDS: tuple[HostKind, ...] = ("api", "app", "web")


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
    """``api.eu1.hubapi.com`` → ``hubapi.com``; None for IP addresses, single labels and
    hosts under no known public suffix."""
    host = host.strip().rstrip(".").lower()
    return _extract(host).top_domain_under_public_suffix or None


def load_vendors() -> list[Vendor]:
    text = resources.files(__package__).joinpath("vendors.yaml").read_text("utf-8")
    document = yaml.safe_load(text)
    jsonschema.validate(document, _schema())
    return [_vendor(entry) for entry in document["vendors"]]


def _schema() -> dict:
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

    def __init__(self, vendors: list[Vendor]) -> None:
        self.vendors = {vendor.slug: vendor for vendor in vendors}
        self._hosts: dict[str, tuple[Vendor, HostKind]] = {}
        for vendor in vendors:
            for kind in reversed(KINDS):  # api last: it wins where a host is listed twice
                for host in vendor.hosts(kind):
                    self._hosts[host] = (vendor, kind)
        self._merchants = sorted(
            ((_merchant_key(name), vendor) for vendor in vendors for name in vendor.merchant_names),
            key=lambda pair: -len(pair[0]),
        )

    @classmethod
    @cache
    def default(cls) -> VendorIndex:
        return cls(load_vendors())

    def by_host(self, host: str) -> VendorMatch | None:
        host = host.strip().rstrip(".").lower()
        domain = registrable_domain(host)
        if domain is None:
            return None
        labels = host.split(".")
        for start in range(len(labels) - domain.count(".")):
            found = self._hosts.get(".".join(labels[start:]))
            if found is not None:
                return VendorMatch(found[0], found[1], domain)
        return None

    def by_merchant(self, text: str) -> Vendor | None:
        """The vendor whose merchant name appears, as whole words, in a statement line."""
        key = _merchant_key(text)
        for name, vendor in self._merchants:
            if re.search(rf"(^| ){re.escape(name)}( |$)", key):
                return vendor
        return None


def _merchant_key(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())

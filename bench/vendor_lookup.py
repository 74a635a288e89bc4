"""How fast the shadow-IT vendor index answers, in one run: a scan calls ``by_host`` once
per log line, and expense imports call ``by_merchant`` once per statement line.

Builds the shipped index (``VendorIndex.default()``, timed: loading, schema validation and
indexing happen once per process), then times ``by_host`` over a synthetic stream of
log hosts drawn the way egress logs look: most lines repeat a few thousand hosts
(listed vendor hosts, subdomains of them, other sites), a share are one-off hosts that
no cache has seen (random subdomains of vendors and of unknown sites), some are written
as logs write them (upper case, a port, a trailing dot), and some are IP addresses. It
also times the worst case where every host is new (the cache never helps) and
``by_merchant`` over statement lines with card-network noise.

    .venv/bin/python bench/vendor_lookup.py [--lines 1000000] [--distinct 5000]
        [--one-off-share 0.05] [--merchant-lines 200000] [--seed 13]

It prints the load time and lookups per second for each stream, and how many lookups
found a vendor (the streams are the same for a given seed).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence

from connectors.saas_vendors import VendorIndex, load_vendors

UNKNOWN_SITES = [f"site{n}.example" for n in range(500)] + [
    "www.wikipedia.org",
    "github.com",
    "slack.com",
    "zoom.us",
    "outlook.office365.com",
    "www.bbc.co.uk",
]
NOISE = [
    "PAYPAL *{name} {ref}",
    "SQ *{name} {ref}",
    "{name}{ref} IE",
    "{name} {ref} SAN FRANCISCO CA",
    "STARBUCKS {ref}",
    "UBER *TRIP {ref}",
    "AMAZON MKTPLACE PMTS {ref}",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=5_000)
    parser.add_argument("--one-off-share", type=float, default=0.05)
    parser.add_argument("--merchant-lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    started = time.perf_counter()
    index = VendorIndex.default()
    print(f"load + validate + index {len(index.vendors)} vendors: {_ms(started)} ms")

    listed = [
        host
        for vendor in load_vendors()
        for kind in ("web", "app", "api")
        for host in vendor.hosts(kind)
    ]
    common = [_log_host(rng, listed) for _ in range(args.distinct)]
    stream = [
        _log_host(rng, listed) if rng.random() < args.one_off_share else rng.choice(common)
        for _ in range(args.lines)
    ]
    _time("by_host, log-like stream", index.by_host, stream)

    fresh = VendorIndex(load_vendors())  # an empty cache, and every host new to it
    _time(
        "by_host, every host new",
        fresh.by_host,
        [_log_host(rng, listed) for _ in range(args.lines)],
    )

    names = [name for vendor in load_vendors() for name in vendor.merchant_names]
    statements = [
        rng.choice(NOISE).format(name=rng.choice(names).upper(), ref=rng.randrange(10**9))
        for _ in range(args.merchant_lines)
    ]
    _time("by_merchant, statement lines", index.by_merchant, statements)


def _log_host(rng: random.Random, listed: Sequence[str]) -> str:
    roll = rng.random()
    if roll < 0.05:
        return ".".join(str(rng.randrange(256)) for _ in range(4))
    base = rng.choice(listed) if roll < 0.55 else rng.choice(UNKNOWN_SITES)
    if rng.random() < 0.6:
        base = f"x{rng.randrange(10**6)}.{base}"
    style = rng.random()
    if style < 0.1:
        return base.upper()
    if style < 0.2:
        return f"{base}:443"
    if style < 0.25:
        return f"{base}."
    return base


def _time(label: str, lookup: Callable[[str], object], inputs: Sequence[str]) -> None:
    started = time.perf_counter()
    found = sum(1 for value in inputs if lookup(value) is not None)
    elapsed = time.perf_counter() - started
    print(
        f"{label}: {len(inputs):,} lookups in {elapsed:.2f} s = {len(inputs) / elapsed:,.0f}/s"
        f" ({found:,} found a vendor)"
    )


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f}"


if __name__ == "__main__":
    main()

"""Governed call vs the same call straight to the vendor, measured in one run.

Starts `gatehouse demo` (gateway under gunicorn, sandbox vendor beside it) on free
loopback ports, then alternates N calls to the sandbox's Mailchimp ping directly and
N through /proxy/mailchimp/ping, each over a keep-alive connection, and prints the
medians, the 95th percentiles and their ratio.

    .venv/bin/python bench/proxy_overhead.py [--calls 500] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from connectors.sandbox.vendors.mailchimp import CREDENTIALS as MAILCHIMP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def timed(session: requests.Session, url: str, **kwargs) -> float:
    started = time.perf_counter()
    response = session.get(url, timeout=10, **kwargs)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[int(share * (len(values) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--database-url", help="GATEHOUSE_DATABASE_URL (default: SQLite)")
    args = parser.parse_args()

    port, sandbox_port = free_port(), free_port()
    instance = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(
        GATEHOUSE_DEMO="1", GATEHOUSE_INSTANCE_PATH=str(instance), GATEHOUSE_LOG_LEVEL="WARNING"
    )
    if args.database_url:
        env["GATEHOUSE_DATABASE_URL"] = args.database_url
    gatehouse = str(Path(sys.executable).with_name("gatehouse"))
    demo = subprocess.Popen(
        [gatehouse, "demo", "--port", str(port), "--sandbox-port", str(sandbox_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        gateway, sandbox = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}"
        wait_for(gateway + "/healthz")
        wait_for(sandbox + "/_sandbox/requests")
        credentials = dict(
            line.split("=", 1) for line in (instance / "demo-client.env").read_text().split()
        )
        token = requests.post(
            gateway + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(credentials["CLIENT_ID"], credentials["CLIENT_SECRET"]),
            timeout=10,
        ).json()["access_token"]
        direct, governed = requests.Session(), requests.Session()
        direct.auth = ("bench", MAILCHIMP["api_key"])
        governed.headers["Authorization"] = f"Bearer {token}"
        for _ in range(20):  # warm both paths
            timed(direct, sandbox + "/mailchimp/3.0/ping")
            timed(governed, gateway + "/proxy/mailchimp/ping")
        direct_times, governed_times = [], []
        for _ in range(args.calls):
            direct_times.append(timed(direct, sandbox + "/mailchimp/3.0/ping"))
            governed_times.append(timed(governed, gateway + "/proxy/mailchimp/ping"))
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)

    database = "PostgreSQL" if args.database_url else "SQLite"
    d50, g50 = statistics.median(direct_times), statistics.median(governed_times)
    d95, g95 = percentile(direct_times, 0.95), percentile(governed_times, 0.95)
    print(f"{args.calls} sequential calls each, exchange log on {database}")
    print(f"direct to vendor  p50 {d50 * 1000:7.2f} ms   p95 {d95 * 1000:7.2f} ms")
    print(f"through gateway   p50 {g50 * 1000:7.2f} ms   p95 {g95 * 1000:7.2f} ms")
    print(f"ratio governed/direct: p50 {g50 / d50:.2f}x   p95 {g95 / d95:.2f}x")
    print(f"gateway adds p50 {(g50 - d50) * 1000:.2f} ms per call")


if __name__ == "__main__":
    main()

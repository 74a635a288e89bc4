"""Real `gatehouse serve` instances for the tests of several instances: each started on a
free loopback port with the environment an operator would give it, its log in a file,
and waited for until it serves."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import Config
from tests.conftest import ENCRYPTION_KEY, GATEHOUSE
from tests.ports import free_port

#: Seconds an instance may take to serve: a loaded 2-CPU machine took over 60.
START_SECONDS = 120


@dataclass
class Instance:
    url: str
    process: subprocess.Popen
    log: Path
    metrics_token: str | None = None
    #: Scrapes of ``/metrics`` a test kept, to read after the traffic.
    scrapes: list[str] = field(default_factory=list)

    def call(self, path: str, token: str | None, body: dict | None = None) -> int:
        """One call on a connection of its own (so that either worker may take it)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        method = "POST" if body is not None else "GET"
        answer = requests.request(method, self.url + path, json=body, headers=headers, timeout=20)
        return answer.status_code

    def api(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=20, **kwargs
        )

    def scrape(self, token: str | None = None) -> requests.Response:
        given = token if token is not None else self.metrics_token
        headers = {"Authorization": f"Bearer {given}"} if given else {}
        return requests.get(f"{self.url}/metrics", headers=headers, timeout=10)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` that have ``labels``."""
        return sum(
            sample.value
            for family in text_string_to_metric_families(self.scrape().text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def control_socket(self) -> Path:
        found = re.search(r"Control socket listening at (\S+)", self.log.read_text())
        assert found, self.log.read_text()
        return Path(found.group(1))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def instance_environment(config: Config, **settings: str) -> dict[str, str]:
    """The environment of an instance on ``config``'s database and secrets, none of the
    test run's own ``GATEHOUSE_*`` variables, and ``settings`` besides."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    environment.update(
        GATEHOUSE_DATABASE_URL=config.database_url,
        GATEHOUSE_SECRET_KEY=config.secret_key,
        GATEHOUSE_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        GATEHOUSE_SUBJECT_PEPPER=config.subject_pepper,
        GATEHOUSE_INSTANCE_PATH=str(config.instance_path),
    )
    return environment | settings


def start_instance(
    environment: dict, log: Path, metrics_token: str | None = None, workers: int = 2
) -> Instance:
    """`gatehouse serve` with ``workers`` workers of 4 threads, once it serves."""
    port = free_port()
    process = subprocess.Popen(
        [GATEHOUSE, "serve", "--port", str(port), "--workers", str(workers), "--threads", "4"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    instance = Instance(f"http://127.0.0.1:{port}", process, log, metrics_token)
    try:
        _wait_until_serving(instance)
    except BaseException:
        instance.stop()
        raise
    return instance


def _wait_until_serving(instance: Instance) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"gatehouse serve exited: {instance.log.read_text()}")
        try:
            if requests.get(f"{instance.url}/healthz", timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to start
            time.sleep(0.2)
    pytest.fail(f"gatehouse serve did not start serving: {instance.log.read_text()}")

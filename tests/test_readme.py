"""The README's curl example, run as printed against a real `gatehouse demo` process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
GATEHOUSE = str(Path(sys.executable).with_name("gatehouse"))


def readme_example(marker: str = "curl-example") -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)```", text, re.S)
    assert block, f"README.md lost its marked {marker}"
    return block.group(1)


def run_example(marker: str, workdir: Path, port: int) -> subprocess.CompletedProcess:
    script = readme_example(marker).replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_until_serving(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    """Until ``url`` answers; a loaded 2-CPU machine took over 60 s to start gunicorn."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gatehouse demo exited: {process.stdout.read()}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to start
            time.sleep(0.2)
    pytest.fail("gatehouse demo did not start serving")


@pytest.fixture
def demo_server(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.update(GATEHOUSE_DEMO="1", GATEHOUSE_INSTANCE_PATH=str(tmp_path / "instance"))
    process = subprocess.Popen(
        [GATEHOUSE, "demo", "--port", str(port), "--sandbox-port", str(sandbox_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/readyz", process)
        wait_until_serving(f"http://127.0.0.1:{sandbox_port}/_sandbox/requests", process)
        yield tmp_path, port, sandbox_port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_readme_curl_example_works_against_the_demo(demo_server):
    workdir, port, sandbox_port = demo_server
    result = run_example("curl-example", workdir, port)
    assert result.returncode == 0, result.stderr
    member = json.loads(result.stdout)
    assert member["email_address"] == "ada@example.com"
    assert member["status"] == "subscribed"
    received = requests.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/requests", timeout=5).json()
    assert [r["path"] for r in received] == ["/mailchimp/3.0/lists/a1b2c3d4e5/members"]

    audited = run_example("auditor-example", workdir, port)
    assert audited.returncode == 0, audited.stderr
    [recipient] = json.loads(audited.stdout)["recipients"]
    assert recipient["tool"] == "mailchimp" and recipient["exchanges"] == 1
    assert recipient["purposes"] == ["marketing.communications.email"]

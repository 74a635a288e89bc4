"""How `gatehouse serve` builds each worker's app and answers what the HTTP server refuses."""

from __future__ import annotations

import gc
import json
import socket
import subprocess

import pytest

from gateway import server
from tests.conftest import GATEHOUSE
from tests.ports import free_port
from tests.test_readme import wait_until_serving


def test_a_worker_freezes_what_it_built_out_of_the_collectors_sight(monkeypatch):
    built = object()
    monkeypatch.setattr(server, "create_app", lambda: built)
    try:
        assert server._Gunicorn({"bind": "127.0.0.1:0"}).load() is built
        assert gc.get_freeze_count() > 10_000  # modules, models, the app's objects
    finally:
        gc.unfreeze()


@pytest.fixture
def served(cli_env):
    port = free_port()
    process = subprocess.Popen(
        [GATEHOUSE, "serve", "--port", str(port), "--workers", "1"],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


SECRET = "eyJhbGciOiJSUzI1NiJ9.secret-token-in-the-query"


@pytest.mark.parametrize(
    ("request_bytes", "status", "slug"),
    [
        (f"GARBAGE /proxy/x?api_secret={SECRET}\r\n\r\n".encode(), 400, "malformed-request"),
        (
            b"GET /" + b"a" * 5000 + f"?api_secret={SECRET} HTTP/1.1\r\n\r\n".encode(),
            414,
            "request-line-too-long",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: y\r\n" * 150 + b"\r\n",
            431,
            "headers-too-large",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n",
            431,
            "headers-too-large",
        ),
        (f"GET /proxy/x?api_secret={SECRET} HTTP/9.9\r\n\r\n".encode(), 400, "malformed-request"),
    ],
    ids=["request-line", "long-line", "many-headers", "long-header", "version"],
)
def test_what_the_http_server_refuses_is_a_problem_that_echoes_nothing(
    served, request_bytes, status, slug
):
    got, headers, body = raw_exchange(served, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"].endswith("/" + slug)
    assert problem["status"] == status
    assert problem["request_id"] == headers["x-request-id"]
    assert SECRET not in body.decode()


def test_an_operators_metrics_folder_loses_only_its_old_samples(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "histogram_123.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("not ours")
    server.empty_metrics_folder(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]

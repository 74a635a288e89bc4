"""The body limit and completeness hold for every framing, against `gatehouse serve`.

Raw sockets on loopback to the real gunicorn server, because framing is what a client
library would otherwise get right for us: each body below, cut where the bug would cut
it, is valid JSON, so only the reading of the body stands between it and the vendor.
"""

from __future__ import annotations

import select
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import GATEHOUSE, apply, get_token
from tests.ports import free_port
from tests.test_proxy import echo_document, records
from tests.test_readme import wait_until_serving
from tests.upstream import RecordingUpstream

LIMIT = 4096
TIMEOUT = 1.0
PATH = "/proxy/echo/x"


def post_tool(base_url: str) -> dict:
    """A tool whose one operation takes a JSON body with a ``data`` string."""
    document = echo_document(base_url)
    document["tools"][0]["spec"]["operations"] = [
        {
            "id": "x",
            "method": "POST",
            "path": "/x",
            "default_purpose": "analytics",
            "body": {"type": "object", "properties": {"data": {"type": "string"}}},
        }
    ]
    return document


@dataclass
class Served:
    port: int
    token: str

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def head(self, *framing: str) -> bytes:
        lines = [
            f"POST {PATH} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            f"Authorization: Bearer {self.token}",
            "Content-Type: application/json",
            *framing,
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
def served(app, upstream: RecordingUpstream, cli_env) -> Iterator[Served]:
    """`gatehouse serve` with one worker thread, so a client holding it blocks everyone."""
    client = apply(app, post_tool(upstream.url + "/api")).new_clients[0]
    port = free_port()
    server = subprocess.Popen(
        [GATEHOUSE, "serve", "--port", str(port), "--workers", "1", "--threads", "1"],
        env={
            **cli_env,
            "GATEHOUSE_MAX_BODY_BYTES": str(LIMIT),
            "GATEHOUSE_CLIENT_BODY_TIMEOUT": str(TIMEOUT),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", server)
        yield Served(port, get_token(f"http://127.0.0.1:{port}", client))
    finally:
        server.terminate()
        server.wait(timeout=15)


def json_padded_to(size: int) -> bytes:
    """A valid JSON body of exactly ``size`` bytes, still valid when cut short."""
    body = b'{"data": "x"}'
    return body + b" " * (size - len(body))


def status_of(connection: socket.socket) -> int:
    answer = b""
    while b"\r\n" not in answer:
        part = connection.recv(4096)
        if not part:
            break
        answer += part
    return int(answer.split(b" ")[1]) if answer else 0


def chunked(body: bytes, size: int = 1000) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def refusals(app) -> list[tuple[int, str]]:
    """Status and rule of each recorded refusal."""
    return [(r.status, r.reasons[0]["rule"]) for r in records(app) if r.decision == "deny"]


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_forwarded(app, served, upstream):
    with served.connect() as connection:
        connection.sendall(
            served.head("Transfer-Encoding: chunked") + chunked(json_padded_to(LIMIT + 500))
        )
        assert status_of(connection) == 413
    assert upstream.requests == []
    assert refusals(app) == [(413, "request_size")]


def test_a_chunked_body_within_the_limit_is_forwarded_whole(served, upstream):
    body = json_padded_to(LIMIT)
    with served.connect() as connection:
        connection.sendall(served.head("Transfer-Encoding: chunked") + chunked(body))
        assert status_of(connection) == 200
    assert [r["body"] for r in upstream.requests] == [body]


def test_a_body_shorter_than_its_content_length_is_never_forwarded(app, served, upstream):
    with served.connect() as connection:
        connection.sendall(served.head("Content-Length: 100") + json_padded_to(50))
        connection.shutdown(socket.SHUT_WR)  # the client is done sending
        assert status_of(connection) in (0, 400)  # answered 400, or just closed
    assert upstream.requests == []
    assert refusals(app) == [(400, "incomplete_body")]


def test_a_chunked_body_cut_off_mid_chunk_is_never_forwarded(app, served, upstream):
    with served.connect() as connection:
        whole = chunked(json_padded_to(2000))
        connection.sendall(served.head("Transfer-Encoding: chunked") + whole[:1500])
        connection.shutdown(socket.SHUT_WR)
        assert status_of(connection) in (0, 400)
    assert upstream.requests == []
    assert refusals(app) == [(400, "incomplete_body")]


def test_a_client_that_stops_sending_is_cut_off_without_holding_the_worker(app, served, upstream):
    started = time.monotonic()
    with served.connect() as stalled:
        stalled.sendall(served.head("Content-Length: 100") + json_padded_to(50))
        # The only worker thread is reading that body; this call waits for it.
        health = requests.get(f"http://127.0.0.1:{served.port}/healthz", timeout=TIMEOUT + 8)
        assert health.status_code == 200
        answer = b"".join(iter(lambda: stalled.recv(4096), b""))  # to the close
        assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < TIMEOUT + 5
    assert upstream.requests == []
    assert refusals(app) == [(408, "body_timeout")]


def test_a_client_trickling_its_body_is_cut_off_when_the_time_is_up(app, served, upstream):
    """A byte every half second never leaves the socket idle for the whole timeout."""
    started = time.monotonic()
    with served.connect() as trickling:
        trickling.sendall(served.head("Content-Length: 100"))
        for byte in json_padded_to(100):
            if select.select([trickling], [], [], 0.5)[0]:  # the gateway has answered
                break
            trickling.sendall(bytes([byte]))
        answer = b"".join(iter(lambda: trickling.recv(4096), b""))
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < TIMEOUT + 2
    assert upstream.requests == []
    assert refusals(app) == [(408, "body_timeout")]

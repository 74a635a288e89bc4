"""The parts of ``bench/side_by_side.py`` that must be right for its figures to mean anything.

The bare pass-through forwards a call unchanged, nginx's upstream and proxy answer what the
probe expects and stop with their process group, wrk's output is read as wrk writes it,
and the bench's catalog lets its call through Gatehouse (a refusal is not throughput).
No timing is asserted: the figures are the bench's to print, never a test's to judge.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import AppCredentials, apply, get_token, grant_consent
from tests.ports import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import side_by_side as bench

needs_nginx_and_wrk = pytest.mark.skipif(
    not (os.access(bench.NGINX, os.X_OK) and os.access(bench.WRK, os.X_OK)),
    reason="needs Debian's nginx and wrk",
)

# Real outputs of wrk 4.1.0 --latency: against the nginx upstream; against nginx
# proxy_pass with the upstream stopped (502s); against a server closing every connection.
CLEAN = """Running 1s test @ http://127.0.0.1:47343/proxy/mailchimp/lists/a1b2c3d4e5/members
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.61ms    2.39ms  17.45ms   86.02%
    Req/Sec    11.58k     2.27k   14.59k    55.00%
  Latency Distribution
     50%  226.00us
     75%    2.36ms
     90%    4.95ms
     99%   10.54ms
  23345 requests in 1.02s, 4.34MB read
Requests/sec:  22820.03
Transfer/sec:      4.24MB
"""
REFUSED = """Running 1s test @ http://127.0.0.1:47577/proxy/mailchimp/lists/a1b2c3d4e5/members
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.85ms    1.04ms   5.93ms   83.56%
    Req/Sec     8.04k   650.09     8.60k    90.00%
  Latency Distribution
     50%  261.00us
     75%    1.21ms
     90%    2.52ms
     99%    4.17ms
  8020 requests in 1.00s, 2.40MB read
  Non-2xx or 3xx responses: 8020
Requests/sec:   7990.09
Transfer/sec:      2.39MB
"""
BROKEN = """Running 1s test @ http://127.0.0.1:52277/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   538.00us    1.59ms  18.74ms   92.28%
    Req/Sec     2.16k     1.62k    5.05k    70.00%
  Latency Distribution
     50%   77.00us
     75%  104.00us
     90%    1.50ms
     99%    7.96ms
  2154 requests in 1.01s, 84.14KB read
  Socket errors: connect 0, read 4308, write 0, timeout 0
Requests/sec:   2123.54
Transfer/sec:     82.95KB
"""


def test_wrk_output_is_read_with_its_units_and_errors():
    clean = bench.parse_wrk(CLEAN)
    assert (clean.requests, clean.seconds, clean.requests_per_second) == (23345, 1.02, 22820.03)
    assert (clean.p50_ms, clean.p99_ms) == (pytest.approx(0.226), 10.54)
    assert clean.errors == 0
    assert bench.parse_wrk(REFUSED).non_2xx == 8020
    broken = bench.parse_wrk(BROKEN)
    assert broken.socket_errors == {"connect": 0, "read": 4308, "write": 0, "timeout": 0}
    assert broken.errors == 4308
    with pytest.raises(ValueError, match="Requests/sec"):
        bench.parse_wrk(CLEAN.replace("Requests/sec", "Req/s"))


def test_a_round_with_errors_gives_no_figure_and_no_verdict(tmp_path):
    clean, refused = bench.parse_wrk(CLEAN), bench.parse_wrk(REFUSED)
    many = {bench.BARE: bench.Figures([clean]), bench.SQLITE: bench.Figures([clean, refused])}
    many[bench.POSTGRES] = bench.Figures([clean])
    single = {bench.BARE: bench.Figures([clean]), bench.POSTGRES: bench.Figures([clean])}
    args = bench.arguments([])
    table = bench.report(many, single, args)
    assert "| Gatehouse, SQLite | errors (8020 non-2xx or socket errors) |" in table
    assert "SQLite throughput ≥ 0.7x bare: — — not judged (a run had errors)" in table
    assert "PostgreSQL throughput ≥ 0.7x bare: 1.00x — **met**" in table


def test_the_call_is_one_kilobyte_naming_the_consented_person():
    body = bench.member_body()
    assert len(body) == bench.BODY_BYTES
    assert '"email_address":"ada@example.com"' in body
    assert f"wrk.body = [==[{body}]==]" in bench.wrk_script(body, "token")


def test_bare_pass_through_forwards_a_post_unchanged(upstream, tmp_path):
    processes = bench.Processes(tmp_path, ports=free_port)
    try:
        bare = bench.start_bare(processes, upstream.url, workers=1, threads=2)
        body = bench.member_body()
        answer = requests.post(
            f"{bare}{bench.CALL_PATH}?skip_merge_validation=true",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
            timeout=10,
        )
    finally:
        processes.stop_all()
    assert (answer.status_code, answer.json()) == (200, {"ok": True})
    assert answer.headers["Content-Type"] == "application/json"
    [received] = upstream.requests
    assert (received["method"], received["path"]) == ("POST", bench.CALL_PATH)
    assert received["query"] == "skip_merge_validation=true"
    assert received["body"] == body.encode()
    assert received["headers"]["authorization"] == "Bearer t"
    assert received["headers"]["content-type"] == "application/json"


@needs_nginx_and_wrk
def test_nginx_answers_the_probe_and_wrk_loads_it_then_all_stops(tmp_path):
    processes = bench.Processes(tmp_path, ports=free_port)
    try:
        upstream = bench.start_upstream(processes)
        proxy = bench.start_proxy(processes, upstream)
        for name, base in ((bench.UPSTREAM, upstream), (bench.PROXY, proxy)):
            bench.probe(name, base, bench.member_body(), "token")
        script = tmp_path / "call.lua"
        script.write_text(bench.wrk_script(bench.member_body(), "token"))
        run = bench.run_wrk(proxy + bench.CALL_PATH, script, connections=2, threads=1, seconds=1)
        started = list(processes.started)
    finally:
        processes.stop_all()
    assert run.requests > 0
    assert run.errors == 0
    assert all(process.poll() is not None for process in started)
    for address in (upstream, proxy):
        with pytest.raises(ConnectionRefusedError), socket.socket() as sock:
            sock.connect(("127.0.0.1", int(address.rsplit(":", 1)[1])))


def test_the_bench_catalog_lets_its_call_through_gatehouse(app, gateway, upstream):
    key = "0123456789abcdef0123456789abcdef-us21"
    report = apply(app, bench.catalog_document(upstream.url), {"BENCH_MAILCHIMP_KEY": key})
    grant_consent(app, bench.PURPOSE, bench.PERSON)
    [client] = report.new_clients
    token = get_token(gateway, AppCredentials(client.client_id, client.client_secret))
    body = bench.member_body()
    answer = requests.post(
        gateway + bench.CALL_PATH,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers[bench.DECISION_HEADER] == "allow"
    [received] = upstream.requests
    assert received["path"] == "/3.0/lists/a1b2c3d4e5/members"
    assert received["body"] == body.encode()

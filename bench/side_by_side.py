"""A governed call next to the same call through plain proxies, loaded side by side in one run.

Why: what Gatehouse costs can only be judged against what forwarding costs anyway, on the
same machine at the same moment (machines and their load vary 2x; an absolute figure
proves nothing). This starts on loopback, each on a free port:

1. a fast upstream: Debian's nginx answering every request 200 with a small fixed JSON;
2. nginx ``proxy_pass`` to it (keep-alive upstream connections);
3. the bare pass-through (``bench/passthrough.py``: Flask + requests, no checks) under
   gunicorn with Gatehouse's settings, WORKERS x THREADS gthread;
4. Gatehouse (``gatehouse serve``, the same WORKERS x THREADS), its exchange log on SQLite;
5. Gatehouse on PostgreSQL, in a database ``gatehouse_bench_<pid>`` created on the server
   of ``--database-url`` and dropped at the end.

Each Gatehouse gets a catalog through ``gatehouse apply`` (one Mailchimp tool whose base URL
is the upstream, a department granted it, an app), and one person's consent to e-mail
marketing through ``gatehouse consent import``. The call is the same for every target:
POST /proxy/mailchimp/lists/<id>/members with a 1 KB JSON body adding that person (the
Mailchimp connector's add_member), the app's bearer token in Authorization. Before any
load each target is probed: it must answer 200 with the upstream's body (and Gatehouse
``Gatehouse-Decision: allow``), since a refusal is not throughput.

One generator, wrk (``/usr/bin/wrk --latency``, the body and headers set by a Lua script),
loads every target with CONNECTIONS connections in interleaved rounds: after a warm-up of
each, round 1 runs every target once for DURATION seconds, round 2 again (each round
starting one target later), and so on; then the same with one connection for the bare
pass-through and Gatehouse on PostgreSQL. A run where wrk saw a non-2xx/3xx answer or a
socket error is reported as errors, never as a figure.

It prints Markdown tables: requests/s (median over the rounds, with each round's), p50 and
p99 (medians over the rounds), Gatehouse's throughput as a share of the bare pass-through's,
the p50 Gatehouse on PostgreSQL adds over it with one connection, and the issue's goals
(>= 0.7x throughput on each database; <= 1.5 ms added p50 on PostgreSQL, one connection),
and what ``gatehouse audit verify`` finds in each Gatehouse's log once it is stopped.
``--record`` appends the run to ``bench/RESULTS.md`` with the date (UTC), the machine, the
git commit and the settings. Everything started is stopped on exit, Ctrl-C included.

    .venv/bin/python bench/side_by_side.py [--rounds 3] [--duration 10] [--warmup 3]
        [--connections 16] [--wrk-threads 2] [--workers 2] [--threads 4]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--redis-url URL] [--record [--label TEXT]]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.config import generate_secrets

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
NGINX, WRK = "/usr/sbin/nginx", "/usr/bin/wrk"
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
UPSTREAM_BODY = '{"id":"8a25ff1d98","status":"subscribed"}'
CALL_PATH = "/proxy/mailchimp/lists/a1b2c3d4e5/members"
PERSON, PURPOSE = "ada@example.com", "marketing.communications.email"
BODY_BYTES = 1024
DECISION_HEADER = "Gatehouse-Decision"

UPSTREAM, PROXY, BARE = "nginx upstream", "nginx proxy_pass", "bare Flask + requests"
SQLITE, POSTGRES = "Gatehouse, SQLite", "Gatehouse, PostgreSQL"
TARGETS = (UPSTREAM, PROXY, BARE, SQLITE, POSTGRES)
THROUGHPUT_GOAL, ADDED_P50_GOAL_MS = 0.7, 1.5

NGINX_CONF = """daemon off;
master_process on;
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
{server}
}}
"""
UPSTREAM_SERVER = """    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location / {{ return 200 '{body}'; }}
    }}"""
PROXY_SERVER = """    upstream fast {{
        server 127.0.0.1:{upstream};
        keepalive 32;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fast;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}"""


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """What the run started, each in a process group of its own, stopped in reverse order."""

    def __init__(self, logs: Path, ports: Callable[[], int] = free_port) -> None:
        self.logs = logs
        #: Where the servers' ports come from: a suite running beside others passes its own.
        self.ports = ports
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None):
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            args, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        while self.started:
            stop(self.started.pop())


def stop(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM to the process's group (gunicorn's or nginx's workers too), SIGKILL if slow."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{log.stem} exited ({process.returncode}):\n{tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"{log.stem} did not listen on {port} in {seconds} s:\n{tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def start_nginx(processes: Processes, name: str, server: str, port: int) -> str:
    prefix = processes.logs / name
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, server=server))
    process = processes.start(name, [NGINX, "-p", str(prefix), "-c", str(conf), "-e", "stderr"])
    wait_for_port(port, process, processes.logs / f"{name}.log")
    return f"http://127.0.0.1:{port}"


def start_upstream(processes: Processes) -> str:
    port = processes.ports()
    server = UPSTREAM_SERVER.format(port=port, body=UPSTREAM_BODY)
    return start_nginx(processes, "nginx-upstream", server, port)


def start_proxy(processes: Processes, upstream: str) -> str:
    port, upstream_port = processes.ports(), int(upstream.rsplit(":", 1)[1])
    server = PROXY_SERVER.format(port=port, upstream=upstream_port)
    return start_nginx(processes, "nginx-proxy", server, port)


def start_bare(processes: Processes, upstream: str, workers: int, threads: int) -> str:
    port = processes.ports()
    args = [str(BIN / "gunicorn"), "-k", "gthread", "-w", str(workers), "--threads"]
    args += [str(threads), "-b", f"127.0.0.1:{port}", "--chdir", str(BENCH)]
    args += ["--access-logfile", "-", "passthrough:create_app()"]
    process = processes.start("bare", args, {**os.environ, "BENCH_UPSTREAM": upstream})
    wait_for_port(port, process, processes.logs / "bare.log")
    return f"http://127.0.0.1:{port}"


# -- Gatehouse ---------------------------------------------------------------------------


def catalog_document(upstream: str) -> dict:
    """One tool at the upstream, one department granted it, one app of that department."""
    return {
        "departments": [{"slug": "bench", "name": "Benchmarks"}],
        "tools": [
            {
                "slug": "mailchimp",
                "name": "Mailchimp (nginx stands in)",
                "connector": "mailchimp",
                "base_url": f"{upstream}/3.0",
                "allow_private_network": True,
                "status": "approved",
                "country": "US",
                "transfer_basis": "dpf",
                "data_subjects": ["customer", "prospect"],
                "credentials": {"api_key": "from-env:BENCH_MAILCHIMP_KEY"},
            }
        ],
        "grants": [
            {
                "department": "bench",
                "tool": "mailchimp",
                "purposes": [PURPOSE],
                "data_categories": ["user.contact.email", "user.name"],
            }
        ],
        "clients": [{"name": "bench-app", "department": "bench", "scopes": ["proxy"]}],
    }


def gatehouse_env(instance: Path, database_url: str, port: int, redis_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({f"GATEHOUSE_{name}": value for name, value in generate_secrets().items()})
    env.update(
        GATEHOUSE_DATABASE_URL=database_url,
        GATEHOUSE_INSTANCE_PATH=str(instance),
        GATEHOUSE_ISSUER=f"http://127.0.0.1:{port}",
        GATEHOUSE_TOKEN_TTL="86400",  # outlives the run
        GATEHOUSE_LOG_LEVEL="WARNING",
        BENCH_MAILCHIMP_KEY="0123456789abcdef0123456789abcdef-us21",
    )
    if redis_url:
        env["GATEHOUSE_REDIS_URL"] = redis_url
    return env


def gatehouse(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "gatehouse"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"gatehouse {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare_gatehouse(folder: Path, env: dict[str, str], upstream: str) -> tuple[str, str]:
    """Migrates, applies the catalog and records the person's consent; the app's id, secret."""
    gatehouse(env, "db", "upgrade")
    catalog = folder / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(catalog_document(upstream), sort_keys=False))
    [client] = json.loads(gatehouse(env, "apply", "--json", str(catalog)))["new_clients"]
    consents = folder / "consents.csv"
    with consents.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["email", "purpose", "status", "source", "occurred_at"])
        writer.writerow([PERSON, PURPOSE, "granted", "bench", "2026-01-01T00:00:00Z"])
    gatehouse(env, "consent", "import", str(consents))
    return client["client_id"], client["client_secret"]


def start_gatehouse(
    processes: Processes, name: str, database_url: str, upstream: str, args: argparse.Namespace
) -> tuple[str, str, dict[str, str]]:
    """Serves a prepared Gatehouse; its address, the app's access token, its environment."""
    folder = processes.logs / name
    folder.mkdir()
    port = processes.ports()
    env = gatehouse_env(folder, database_url, port, args.redis_url)
    client_id, secret = prepare_gatehouse(folder, env, upstream)
    serve = [str(BIN / "gatehouse"), "serve", "--port", str(port)]
    serve += ["--workers", str(args.workers), "--threads", str(args.threads)]
    process = processes.start(name, serve, env)
    wait_for_port(port, process, processes.logs / f"{name}.log")
    address = f"http://127.0.0.1:{port}"
    answer = requests.post(
        f"{address}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    answer.raise_for_status()
    return address, answer.json()["access_token"], env


def verified_log(env: dict[str, str]) -> str:
    """``gatehouse audit verify`` on a stopped Gatehouse's log: its summary and verdict."""
    done = subprocess.run(
        [str(BIN / "gatehouse"), "audit", "verify"], env=env, capture_output=True, text=True
    )
    summary = [line for line in done.stdout.splitlines() if line.startswith("Results:")]
    verdict = "the chains verify" if done.returncode == 0 else "**the chains do not verify**"
    return f"{' '.join(summary) or done.stderr.strip()[-300:]} — {verdict}"


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A database of this run on the server of ``server_url``, dropped afterwards."""
    server = make_url(server_url)
    name = f"gatehouse_bench_{os.getpid()}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- the call and its load ---------------------------------------------------------------


def member_body(size: int = BODY_BYTES) -> str:
    """The add_member body naming the consented person, merge fields padded to ``size``."""
    member = {
        "email_address": PERSON,
        "status": "subscribed",
        "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace", "NOTES": ""},
    }
    room = size - len(json.dumps(member, separators=(",", ":")))
    member["merge_fields"]["NOTES"] = ("Prefers the monthly digest. " * 40)[:room]
    return json.dumps(member, separators=(",", ":"))


def wrk_script(body: str, token: str) -> str:
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{body}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )


def probe(name: str, base: str, body: str, token: str) -> None:
    """One call as wrk makes it: the upstream's 200 and body, and Gatehouse's allow."""
    answer = requests.post(
        base + CALL_PATH,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    decision = answer.headers.get(DECISION_HEADER)
    if answer.status_code != 200 or answer.text != UPSTREAM_BODY:
        raise SystemExit(f"{name} answered {answer.status_code} ({decision}): {answer.text[:500]}")
    if name in (SQLITE, POSTGRES) and decision != "allow":
        raise SystemExit(f"{name} answered 200 without {DECISION_HEADER}: allow ({decision})")


@dataclass
class WrkRun:
    """What one wrk --latency run printed."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def duration_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * UNIT_MS[unit]


def parse_wrk(output: str) -> WrkRun:
    """The figures of ``wrk --latency`` output; ValueError if a line is missing."""

    def find(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"no {pattern!r} in wrk output:\n{output}")
        return match

    total = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),")
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkRun(
        requests=int(total[1]),
        seconds=duration_ms(total[2] + total[3]) / 1000,
        requests_per_second=float(find(r"^Requests/sec:\s+([\d.]+)")[1]),
        p50_ms=duration_ms(find(r"^\s+50%\s+(\S+)")[1]),
        p99_ms=duration_ms(find(r"^\s+99%\s+(\S+)")[1]),
        socket_errors=dict(
            zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)
        )
        if errors
        else {},
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
    )


def run_wrk(url: str, script: Path, connections: int, threads: int, seconds: int) -> WrkRun:
    args = [WRK, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s"]
    args += ["--timeout", "10s", "--latency", "-s", str(script), url]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


def load_in_rounds(
    targets: dict[str, str], scripts: dict[str, Path], connections: int, args: argparse.Namespace
) -> dict[str, list[WrkRun]]:
    """A warm-up of each target, then ROUNDS rounds of each, every round starting one later."""
    names = list(targets)
    for name in names:
        run_wrk(targets[name], scripts[name], connections, args.wrk_threads, args.warmup)
    runs: dict[str, list[WrkRun]] = {name: [] for name in names}
    for number in range(args.rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            run = run_wrk(
                targets[name], scripts[name], connections, args.wrk_threads, args.duration
            )
            runs[name].append(run)
            print(
                f"  round {number + 1}, {connections} conn., {name}: "
                f"{run.requests_per_second:,.0f} req/s, p50 {run.p50_ms:.2f} ms"
                + (f", {run.errors} ERRORS" if run.errors else ""),
                file=sys.stderr,
            )
    return runs


# -- the report --------------------------------------------------------------------------


@dataclass
class Figures:
    """A target's medians over the rounds, or None if any round saw errors."""

    rounds: list[WrkRun]

    @property
    def clean(self) -> bool:
        return all(run.errors == 0 for run in self.rounds)

    def median(self, attribute: str) -> float | None:
        values = [getattr(run, attribute) for run in self.rounds]
        return statistics.median(values) if self.clean and values else None


def ratio_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def row(name: str, figures: Figures, versus: str) -> str:
    if not figures.clean:
        errors = sum(run.errors for run in figures.rounds)
        return f"| {name} | errors ({errors} non-2xx or socket errors) | | | | |"
    rounds = " / ".join(f"{run.requests_per_second:,.0f}" for run in figures.rounds)
    return (
        f"| {name} | {figures.median('requests_per_second'):,.0f} | {rounds} "
        f"| {figures.median('p50_ms'):.2f} | {figures.median('p99_ms'):.2f} | {versus} |"
    )


def share_of(figures: dict[str, Figures], name: str, base: str) -> float | None:
    if name not in figures or base not in figures:
        return None
    value, reference = (figures[n].median("requests_per_second") for n in (name, base))
    return None if value is None or reference is None else value / reference


def added_p50(single: dict[str, Figures]) -> float | None:
    if POSTGRES not in single or BARE not in single:
        return None
    governed, bare = single[POSTGRES].median("p50_ms"), single[BARE].median("p50_ms")
    return None if governed is None or bare is None else governed - bare


def verdict(value: float | None, met: bool) -> str:
    return (
        "not judged (a run had errors)" if value is None else ("**met**" if met else "**not met**")
    )


def report(many: dict[str, Figures], single: dict[str, Figures], args: argparse.Namespace) -> str:
    header = "| target | requests/s (median) | each round | p50 ms | p99 ms | vs bare |"
    lines = [f"{args.connections} connections:", "", header, "|---|---|---|---|---|---|"]
    for name, figures in many.items():
        share = share_of(many, name, BARE) if name in (SQLITE, POSTGRES) else None
        lines.append(row(name, figures, ratio_text(share) if share else ""))
    lines += ["", "1 connection:", "", header, "|---|---|---|---|---|---|"]
    added = added_p50(single)
    for name, figures in single.items():
        versus = f"+{added:.2f} ms p50" if name == POSTGRES and added is not None else ""
        lines.append(row(name, figures, versus))
    lines += ["", "Goals:", ""]
    for database in (SQLITE, POSTGRES):
        share = share_of(many, database, BARE)
        lines.append(
            f"- {database} throughput ≥ {THROUGHPUT_GOAL}x bare: {ratio_text(share)} — "
            + verdict(share, share is not None and share >= THROUGHPUT_GOAL)
        )
    added_text = "—" if added is None else f"{added:.2f} ms"
    lines.append(
        f"- {POSTGRES} adds ≤ {ADDED_P50_GOAL_MS} ms p50 over bare, 1 connection: "
        f"{added_text} — " + verdict(added, added is not None and added <= ADDED_P50_GOAL_MS)
    )
    return "\n".join(lines)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return (
        f"{model[1] if model else platform.processor()}, {os.cpu_count()} cores; "
        f"Linux {platform.release()}"
    )


def commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=BENCH, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = " with uncommitted changes" if git("status", "--porcelain") else ""
    return f"{git('rev-parse', '--short', 'HEAD')} ({git('log', '-1', '--format=%s')}){dirty}"


def settings(args: argparse.Namespace) -> str:
    return (
        f"gunicorn {args.workers} workers x {args.threads} threads (gthread) for the bare "
        f"pass-through and Gatehouse; wrk {args.wrk_threads} threads, {args.connections} "
        f"connections and 1 connection; {args.rounds} interleaved rounds of {args.duration} s "
        f"after {args.warmup} s of warm-up; POST {CALL_PATH}, {BODY_BYTES} B JSON body"
        + ("; Gatehouse with Redis" if args.redis_url else "")
    )


def load_text(before: float, after: float) -> str:
    """The machine's load around the run: above its cores, something else competed."""
    return f"load average (1 min) {before:.1f} before the run, {after:.1f} after"


def record(table: str, args: argparse.Namespace, load: str) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    entry = [f"\n## {when}" + (f" — {args.label}" if args.label else ""), ""]
    entry += [f"- machine: {machine()}; {load}", f"- commit: {commit()}"]
    entry += [f"- settings: {settings(args)}"]
    with RESULTS.open("a") as results:
        results.write("\n".join([*entry, "", table, ""]))


# -- the command -------------------------------------------------------------------------


def start_all(processes: Processes, database_url: str, args) -> tuple[dict, dict, dict]:
    """Every target started: the address and bearer token of each, and each Gatehouse's
    environment (for ``gatehouse`` commands on its database)."""
    upstream = start_upstream(processes)
    targets = {UPSTREAM: upstream, PROXY: start_proxy(processes, upstream)}
    targets[BARE] = start_bare(processes, upstream, args.workers, args.threads)
    tokens, envs = {name: "bench" for name in targets}, {}
    for name, folder, url in (
        (SQLITE, "gatehouse-sqlite", f"sqlite:///{processes.logs / 'gatehouse.db'}"),
        (POSTGRES, "gatehouse-postgresql", database_url),
    ):
        targets[name], tokens[name], envs[name] = start_gatehouse(
            processes, folder, url, upstream, args
        )
    return targets, tokens, envs


def measure(args: argparse.Namespace, folder: Path, database_url: str) -> str:
    processes = Processes(folder)
    try:
        targets, tokens, envs = start_all(processes, database_url, args)
        body, scripts = member_body(), {}
        for name, base in targets.items():
            probe(name, base, body, tokens[name])
            scripts[name] = folder / f"{TARGETS.index(name)}.lua"
            scripts[name].write_text(wrk_script(body, tokens[name]))
        urls = {name: base + CALL_PATH for name, base in targets.items()}
        many = load_in_rounds(urls, scripts, args.connections, args)
        single = load_in_rounds({n: urls[n] for n in (BARE, POSTGRES)}, scripts, 1, args)
    finally:
        processes.stop_all()
    table = report(
        {n: Figures(r) for n, r in many.items()}, {n: Figures(r) for n, r in single.items()}, args
    )
    logs = [f"- {name}: {verified_log(env)}" for name, env in envs.items()]
    return "\n".join(
        [table, "", "Exchange logs after the run (`gatehouse audit verify`):", "", *logs]
    )


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds of each run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of each warm-up")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GATEHOUSE_BENCH_DATABASE_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL server (any database on it): the run's database is made beside it "
        "(default $GATEHOUSE_BENCH_DATABASE_URL, else the local server)",
    )
    parser.add_argument("--redis-url", help="GATEHOUSE_REDIS_URL of both Gatehouses")
    parser.add_argument("--record", action="store_true", help=f"append the run to {RESULTS}")
    parser.add_argument("--label", default="", help="the recorded run's title")
    return parser.parse_args(argv)


def main() -> None:
    args = arguments()
    for program in (NGINX, WRK):
        if not os.access(program, os.X_OK):
            raise SystemExit(f"{program} is needed (Debian packages nginx-light or nginx, wrk)")
    # SIGTERM unwinds like Ctrl-C, through every finally that stops what was started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()[0]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="gatehouse-side-by-side-") as folder,
            postgres_database(args.database_url) as database_url,
        ):
            table = measure(args, Path(folder), database_url)
    except KeyboardInterrupt:
        raise SystemExit("interrupted; everything it started is stopped") from None
    load = load_text(load_before, os.getloadavg()[0])
    print(f"\n{settings(args)}\n{load} ({os.cpu_count()} cores)\n\n{table}")
    if args.record:
        record(table, args, load)
        print(f"\nrecorded in {RESULTS}")


if __name__ == "__main__":
    main()

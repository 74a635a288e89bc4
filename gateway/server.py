"""Serving the app with gunicorn from the ``gatehouse serve`` command.

Each worker builds its own app after the fork, so no database connection or
thread is shared across processes; then it starts listening for the database's change
announcements (``gateway.change_listener``).

Each start gets a runtime folder of its own (mode 0700, removed on exit), so that
several instances on one host never share state: it holds gunicorn's control socket
and the workers' Prometheus samples. The workers write their samples to files there
(multiprocess mode) and ``/metrics`` sums them, so every scrape counts every worker;
the files of a worker that exits are marked dead so that its gauges stop counting.
``prometheus_client`` decides on multiprocess mode when it is first imported, which
the ``gatehouse`` command has already done; so, with the folder ready, this process
runs itself again (same pid) as ``python -m gateway.server``, with the variable set.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess

from gateway.app import create_app
from gateway.change_listener import listen_for_changes

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self):
        app = create_app()
        freeze_what_lives()
        return app


def freeze_what_lives() -> None:
    """Moves every object alive now (once the app is built: modules, models, policies,
    ~100k objects) out of the garbage collector's sight. A full collection walks every
    tracked object; walking those took ~35 ms, a stall of whichever request set it off.
    Garbage is collected first; what is frozen lives as long as the process anyway."""
    gc.collect()
    gc.freeze()


def serve_with_gunicorn(
    host: str, port: int, workers: int, threads: int, companions: Sequence[int] = ()
) -> None:
    """Prepares this start's folders, then becomes the gunicorn master (never returns).
    ``companions``: processes started to serve alongside (the demo's sandbox vendors),
    terminated when the master stops, as no ``atexit`` handler survives the exec."""
    metrics_folder = os.environ.get(MULTIPROC_VARIABLE)
    if metrics_folder:
        empty_metrics_folder(Path(metrics_folder))
    runtime = Path(tempfile.mkdtemp(prefix="gatehouse-serve-", dir=_runtime_parent()))
    if not metrics_folder:
        metrics_folder = str(runtime / "metrics")
        os.mkdir(metrics_folder, 0o700)
    environment = {**os.environ, MULTIPROC_VARIABLE: metrics_folder}
    arguments = [str(runtime), host, str(port), str(workers), str(threads)]
    arguments += [str(pid) for pid in companions]
    sys.stdout.flush()  # what is still buffered would be lost with this process image
    sys.stderr.flush()
    # The same program, to import prometheus_client anew; no shell, arguments as a list.
    os.execve(sys.executable, [sys.executable, "-m", __name__, *arguments], environment)  # noqa: S606


def empty_metrics_folder(folder: Path) -> None:
    """Removes the samples an earlier start left in an operator's folder (only those:
    the folder is to hold nothing else, but a mistaken path must not be wiped). That it
    is a folder is checked by ``prometheus_client``, which writes there on import."""
    for samples in folder.glob("*.db"):
        samples.unlink()


def _runtime_parent() -> str | None:
    """The user's runtime folder if the system gives one, else the temporary folder."""
    parent = os.environ.get("XDG_RUNTIME_DIR")
    return parent if parent and os.path.isdir(parent) else None


def mark_worker_dead(_arbiter, worker) -> None:
    """gunicorn's ``child_exit`` hook: the worker's live gauges no longer count."""
    multiprocess.mark_process_dead(worker.pid)


def close_exchange_log(_arbiter, worker) -> None:
    """gunicorn's ``worker_exit`` hook, in the worker once it stopped serving: the
    outcomes still queued (calls are answered before theirs is written) are written."""
    app = getattr(worker, "wsgi", None)  # none if the worker never built the app
    services = getattr(app, "extensions", {}).get("gatehouse.proxy")
    if services is not None:
        services.log.close()


def start_listening(worker) -> None:
    """gunicorn's ``post_worker_init`` hook: the worker, forked and with its app, hears
    the database's change announcements on a connection of its own."""
    listen_for_changes(worker.wsgi)


def run_master(
    runtime: Path, host: str, port: int, workers: int, threads: int, companions: Sequence[int]
) -> None:
    master = os.getpid()
    try:
        _Gunicorn(
            {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gateway.worker.ProblemThreadWorker",
                "accesslog": "-",
                "logger_class": "gateway.log_redaction.RedactingAccessLogger",
                "graceful_timeout": 10,
                "control_socket": str(runtime / "gunicorn.ctl"),
                "child_exit": mark_worker_dead,
                "worker_exit": close_exchange_log,
                "post_worker_init": start_listening,
            }
        ).run()
    finally:
        # Workers are forked from inside run() and leave through here too: only the
        # master, once they are gone, removes the folder.
        if os.getpid() == master:
            shutil.rmtree(runtime, ignore_errors=True)
            for pid in companions:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)


def _main(runtime: str, host: str, port: str, workers: str, threads: str, *companions: str) -> None:
    pids = [int(pid) for pid in companions]
    run_master(Path(runtime), host, int(port), int(workers), int(threads), pids)


if __name__ == "__main__":
    _main(*sys.argv[1:])

"""Serving the app with gunicorn from the ``gatehouse serve`` command.

Each worker builds its own app after the fork, so no database connection or
thread is shared across processes.
"""

from __future__ import annotations

import gc

from gunicorn.app.base import BaseApplication

from gateway.app import create_app


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


def serve_with_gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gateway.worker.ProblemThreadWorker",
            "accesslog": "-",
            "logger_class": "gateway.log_redaction.RedactingAccessLogger",
            "graceful_timeout": 10,
        }
    ).run()

"""How `gatehouse serve` builds each worker's app."""

from __future__ import annotations

import gc

from gateway import server


def test_a_worker_freezes_what_it_built_out_of_the_collectors_sight(monkeypatch):
    built = object()
    monkeypatch.setattr(server, "create_app", lambda: built)
    try:
        assert server._Gunicorn({"bind": "127.0.0.1:0"}).load() is built
        assert gc.get_freeze_count() > 10_000  # modules, models, the app's objects
    finally:
        gc.unfreeze()

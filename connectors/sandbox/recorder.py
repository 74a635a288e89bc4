"""Keeps every request a sandbox vendor received, so tests and people can see it."""

from __future__ import annotations

import threading

from flask import Flask, jsonify, request


class Recorder:
    def __init__(self) -> None:
        self._requests: list[dict] = []
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        app.before_request(self._keep)
        app.add_url_rule("/_sandbox/requests", "list_requests", self._list, methods=["GET"])
        app.add_url_rule("/_sandbox/requests", "clear_requests", self._clear, methods=["DELETE"])
        app.extensions["sandbox.recorder"] = self

    def _keep(self) -> None:
        if request.path.startswith("/_sandbox/"):
            return
        entry = {
            "vendor": request.path.split("/")[1],
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            "headers": dict(request.headers),
            "body": request.get_data(as_text=True),
        }
        with self._lock:
            self._requests.append(entry)

    def _list(self):
        vendor = request.args.get("vendor")
        with self._lock:
            kept = [r for r in self._requests if vendor is None or r["vendor"] == vendor]
        return jsonify(kept)

    def _clear(self):
        with self._lock:
            self._requests.clear()
        return "", 204

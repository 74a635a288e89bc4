"""A real HTTP upstream for tests: records each request and answers as the path asks.

- ``/redirect`` answers 302 to another host (the gateway must not follow it);
- ``/slow`` sleeps past the gateway's read timeout;
- ``/hop`` answers with hop-by-hop headers the gateway must drop;
- anything else answers 200 with a small JSON body.
"""

from __future__ import annotations

import json
import threading
import time

from werkzeug.wrappers import Request, Response


class RecordingUpstream:
    def __init__(self) -> None:
        self.url = ""
        self.requests: list[dict] = []
        self._lock = threading.Lock()

    def wsgi(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "raw_uri": environ.get("RAW_URI") or environ.get("REQUEST_URI"),
                    "query": request.query_string.decode(),
                    "headers": {name.lower(): value for name, value in request.headers.items()},
                    "body": request.get_data(),
                }
            )
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if request.path.endswith("/redirect"):
            return Response(status=302, headers={"Location": "http://127.0.0.2:9/stolen"})
        if request.path.endswith("/slow"):
            time.sleep(3)
            return Response("late")
        if request.path.endswith("/hop"):
            return Response(
                "ok",
                headers={
                    "Connection": "close, X-Hop-Secret",
                    "X-Hop-Secret": "must-not-pass",
                    "Keep-Alive": "timeout=5",
                    "X-Vendor": "kept",
                },
            )
        return Response(json.dumps({"ok": True}), mimetype="application/json")

"""The bare pass-through of ``bench/side_by_side.py``: Flask and requests, no checks at all.

What a gateway costs is judged against this: the same framework, HTTP client and
gunicorn settings as Gatehouse, doing only what any forwarding proxy must do. Every
request (any method and path) is sent to ``BENCH_UPSTREAM`` with its method, path, query,
body and headers through one pooled ``requests.Session`` per worker; the upstream's
status, headers and body are returned. Hop-by-hop headers are not passed either way.

    BENCH_UPSTREAM=http://127.0.0.1:8081 gunicorn -k gthread -w 2 --threads 4 \
        --chdir bench 'passthrough:create_app()'
"""

from __future__ import annotations

import os

import requests
from flask import Flask, Response, request
from requests.adapters import HTTPAdapter

#: Headers of one hop (RFC 9110, 7.6.1), and those the HTTP libraries set themselves.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)
#: Pooled connections per worker, as Gatehouse's default GATEHOUSE_UPSTREAM_POOL_SIZE.
POOL_SIZE = 20


def end_to_end(headers) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in HOP_BY_HOP}


def create_app(upstream: str | None = None) -> Flask:
    """The app forwarding to ``upstream`` (default: the ``BENCH_UPSTREAM`` variable)."""
    app = Flask(__name__)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE))
    base = (upstream or os.environ["BENCH_UPSTREAM"]).rstrip("/")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def forward(path: str) -> Response:
        query = request.query_string.decode()
        answer = session.request(
            request.method,
            f"{base}/{path}" + (f"?{query}" if query else ""),
            data=request.get_data(),
            headers=end_to_end(request.headers),
            allow_redirects=False,
            timeout=(3.05, 30),
        )
        return Response(
            answer.content, status=answer.status_code, headers=end_to_end(answer.headers)
        )

    return app

"""The gunicorn worker of ``gatehouse serve``: problem+json even before the app sees a request.

gunicorn refuses a malformed request line, oversized headers or a bad chunked framing
itself, with an HTML page that echoes part of what it could not parse. Clients of the
gateway read one error shape, and a request line may carry an app's token in its query
string, so this worker answers those refusals as RFC 9457 problems that echo nothing.
gunicorn calls its module-level ``write_error`` for them; the worker replaces it in its
own process only.
"""

from __future__ import annotations

import json
import uuid

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from gateway.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

#: What each status the HTTP server answers on its own means to a client.
SERVER_REFUSALS = {
    400: ("malformed-request", "the request line, a header or the body's framing is malformed"),
    403: ("forbidden", "the request was refused by the HTTP server"),
    414: ("request-line-too-long", "the request line is longer than the server accepts"),
    417: ("expectation-failed", "the Expect header names an expectation the server cannot meet"),
    431: ("headers-too-large", "there are more headers, or longer ones, than the server accepts"),
    501: ("unsupported-transfer-coding", "the request uses a transfer coding the server lacks"),
}
_INTERNAL = ("internal-error", "The gateway failed unexpectedly.")


def write_problem(sock, status: int, reason: str, _message: str) -> None:
    """Answer with a problem and close; ``_message`` is gunicorn's, which may echo input."""
    slug, detail = SERVER_REFUSALS.get(status, _INTERNAL)
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + slug,
            "title": reason,
            "status": status,
            "detail": detail,
            "request_id": request_id,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n"
        f"X-Request-Id: {request_id}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


class ProblemThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, answering its own refusals as problems."""

    def init_process(self) -> None:
        util.write_error = write_problem
        super().init_process()

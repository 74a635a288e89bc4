"""The request body as the proxy reads it: whole, within the limit, in time, and once.

The proxy reads ``wsgi.input`` itself rather than through Werkzeug, whose stream stops
quietly at the size limit when a body is chunked and hands back a short body when the
client hangs up early: either would be checked and forwarded as if it were the whole
body. Here a body over the limit is refused (413) whatever its framing; a body shorter
than its ``Content-Length``, or with broken chunks, is refused (400); and a client that
stops sending, or sends a byte now and then, is cut off once ``client_body_timeout`` has
passed (408) instead of holding a worker thread for as long as it likes. The bytes read,
and the JSON document parsed from them, are kept on the request, so the token lookup and
the inspection see the same body.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from flask import Request, current_app
from gunicorn.http.errors import ParseException

from gateway.config import config_of
from gateway.deadline import deadline
from gateway.errors import Problem
from gateway.proxy.refusal import refusal
from gateway.unambiguous_json import parse_document

_READ_SIZE = 64 * 1024
_KEPT_AS = "gatehouse.body"
_PARSED_AS = "gatehouse.document"


def request_body(request: Request) -> bytes:
    """The whole body of the request, read on first use."""
    environ = request.environ
    if _KEPT_AS not in environ:
        config = config_of(current_app)
        environ[_KEPT_AS] = _read(environ, config.max_body_bytes, config.client_body_timeout)
    return environ[_KEPT_AS]


def request_document(request: Request) -> Any:
    """The body's JSON document (:func:`parse_document`), parsed on first use; raises
    :class:`AmbiguousJSON` each time it is asked for one the body does not hold."""
    environ = request.environ
    if _PARSED_AS not in environ:
        environ[_PARSED_AS] = parse_document(request_body(request))
    return environ[_PARSED_AS]


def _read(environ: dict, limit: int, timeout: float) -> bytes:
    length = _declared_length(environ)
    if length is not None and length > limit:
        raise _too_large(limit)
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""  # neither a length nor a server-decoded chunked stream: no body
    client = environ.get("gunicorn.socket")
    most = limit + 1 if length is None else length
    try:
        body = _read_within(environ["wsgi.input"], most, client, timeout)
    except TimeoutError as exc:
        _stop_reading(client)
        raise _timed_out(timeout) from exc
    except (OSError, ValueError, ParseException) as exc:  # reset, or chunks the server rejects
        raise _incomplete("the body was cut off or its chunks are malformed") from exc
    if len(body) > limit:
        raise _too_large(limit)
    if length is not None and len(body) < length:
        raise _incomplete(f"the body ended after {len(body)} of {length} bytes")
    return body


@dataclass(frozen=True)
class _Client:
    """The app's connection, as a deadline watch cuts it."""

    sock: socket.socket


def _read_within(stream: IO[bytes], most: int, client: socket.socket | None, timeout: float):
    """Up to ``most`` bytes of the body, all arrived within ``timeout`` seconds: a client
    that stops, or sends a byte now and then, is cut off (its socket's reading side is
    shut, so the answer can still be sent). Only gunicorn hands the socket over; under
    other servers nothing is cut."""
    with _timeout_restored(client), deadline(timeout, how=socket.SHUT_RD) as watch:
        if client is not None:
            client.settimeout(timeout)
            watch.attach(_Client(client))
        try:
            body = _read_at_most(stream, most)
        except (OSError, ValueError, ParseException):
            if watch.expired:  # the cut made the read fail
                raise TimeoutError("the body did not arrive in time") from None
            raise
    if watch.expired:  # the cut ended the body early
        raise TimeoutError("the body did not arrive in time")
    return body


@contextlib.contextmanager
def _timeout_restored(client: socket.socket | None) -> Iterator[None]:
    """The client socket's timeout as it was before the body was read: gunicorn reads
    the next request of a kept-alive connection with it."""
    if client is None:
        yield
        return
    previous = client.gettimeout()
    try:
        yield
    finally:
        client.settimeout(previous)


def _declared_length(environ: dict) -> int | None:
    raw = environ.get("CONTENT_LENGTH", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise _incomplete("Content-Length is not a number")
    return int(raw)


def _read_at_most(stream: IO[bytes], most: int) -> bytes:
    parts, size = [], 0
    while size < most:
        part = stream.read(min(_READ_SIZE, most - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _stop_reading(client: socket.socket | None) -> None:
    """No more is read from a client that stalled: the server then closes the connection
    after the answer instead of waiting for the rest of the body to discard it."""
    if client is not None:
        with contextlib.suppress(OSError):  # the client is already gone
            client.shutdown(socket.SHUT_RD)


def _too_large(limit: int) -> Problem:
    return refusal(
        413,
        "body-too-large",
        "Body too large",
        "request_size",
        f"the request body exceeds {limit} bytes",
    )


def _incomplete(message: str) -> Problem:
    return refusal(
        400,
        "incomplete-body",
        "Incomplete body",
        "incomplete_body",
        f"{message}; nothing was forwarded",
    )


def _timed_out(timeout: float) -> Problem:
    return refusal(
        408,
        "body-timeout",
        "Body not received in time",
        "body_timeout",
        f"the client did not send the whole body within {timeout:g} seconds; nothing was forwarded",
    )

"""Outbound HTTP to vendors: safe URLs, filtered headers, one pooled session per tool.

Every call to a vendor goes through here: redirects are never followed, timeouts and a
deadline for the whole answer are always set, the answer's size is capped, hop-by-hop
headers, the app's own credentials and headers that would change the call's meaning
never leave, cookies never come back, and the upstream path cannot climb out of the
tool's base URL. However the call fails, the failure is an :class:`UpstreamFailure`.
A failed call is tried again when that is safe and fits in its deadline (``gateway.retries``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import requests
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, ReadTimeoutError

from gateway.deadline import deadline
from gateway.metrics import observe_retries
from gateway.retries import retried_call, vendor_retry
from gateway.vendor_connections import AddressRefused, VettedAdapter

logger = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Request headers that carry the app's credentials or the gateway's own signals.
NOT_FORWARDED = frozenset(
    {"host", "authorization", "cookie", "content-length", "x-purpose", "x-tcf-consent"}
)
#: Request headers that would make a vendor (or the proxies in front of it) read the call
#: as another method or path than the one policy allowed, or the app as another client.
MEANING_CHANGING = frozenset(
    {
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-method",
        "x-original-url",
        "x-original-uri",
        "x-rewrite-url",
        "x-override-url",
        "x-original-host",
        "x-host",
        "forwarded",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "client-ip",
        "x-cluster-client-ip",
    }
)
#: Any X-Forwarded-For/-Host/-Proto/-Prefix/...: the app's claims about where it calls from.
MEANING_CHANGING_PREFIX = "x-forwarded-"
#: Response headers the gateway sets itself, and cookies: the vendor's session with the
#: gateway is not the app's, and the app must not hold state the gateway cannot see.
NOT_RETURNED = frozenset(
    {"content-length", "x-request-id", "gatehouse-decision", "set-cookie", "set-cookie2"}
)

#: How much of a vendor's answer is read at a time (the size cap is checked after each).
READ_CHUNK_BYTES = 64 * 1024

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: Characters left unescaped when re-encoding a decoded path (RFC 3986 pchar and "/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class ResponseTooLarge(Exception):
    """The vendor's answer is larger than ``GATEHOUSE_UPSTREAM_MAX_RESPONSE_BYTES``."""


class UnusableStatus(Exception):
    """The vendor answered with a status that is no final HTTP status (200 to 599): a
    101 would switch the app's connection to a protocol nobody checks, 999 is no HTTP."""


class UnsafePath(ValueError):
    """The requested upstream path would leave the tool's base URL."""


#: Everything sending a request and reading its answer can raise: requests' own errors,
#: urllib3's and the socket's while the body is read, and what this module raises.
SEND_FAILURES = (
    requests.RequestException,
    HTTPError,
    HTTPException,
    OSError,  # TimeoutError included
    AddressRefused,
    ResponseTooLarge,
    UnusableStatus,
)


class UpstreamFailure(Exception):
    def __init__(
        self, status: int, slug: str, detail: str, elapsed: float, retries: int, kind: str
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        #: What failed, for the vendor error counter (see ``failure_kind``).
        self.kind = kind
        self.detail = detail
        self.elapsed = elapsed
        self.retries = retries


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float
    #: Tries that failed before this one (see ``gateway.retries``).
    retries: int = 0


def ensure_safe_path(path: str) -> None:
    """Refuse a path that could climb out of a base URL or be read two ways."""
    if "\\" in path or any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise UnsafePath("the path holds a backslash or a control character")
    if path.startswith("/") or _SCHEME.match(path):
        raise UnsafePath("the path is absolute; give it relative to the tool")
    # "..;x" is ".." to servers that strip path parameters (Tomcat, Spring, Jetty).
    if any(segment.split(";", 1)[0] in {".", ".."} for segment in path.split("/")):
        raise UnsafePath("the path holds a '.' or '..' segment")


def upstream_url(
    base_url: str,
    path: str,
    query: str,
    extra_params: Mapping[str, str],
    drop_params: frozenset[str] = frozenset(),
) -> str:
    """The vendor URL for ``path`` below ``base_url``, or :class:`UnsafePath`.

    ``extra_params`` (the vendor credential) replace any the app sent by the same name;
    ``drop_params`` (where the app put its gateway token) are removed.
    """
    ensure_safe_path(path)
    base = urlsplit(base_url)
    url = base_url.rstrip("/") + "/" + quote(path, safe=_PATH_SAFE)
    target = urlsplit(url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not target.path.startswith(
        base.path.rstrip("/")
    ):
        raise UnsafePath("the path leaves the tool's base URL")
    if extra_params or drop_params:
        removed = drop_params | set(extra_params)
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in removed]
        query = urlencode([*kept, *extra_params.items()])
    return f"{url}?{query}" if query else url


def forwarded_request_headers(
    headers: Mapping[str, str], also_drop: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The app's headers that may reach the vendor; ``also_drop`` are lower-case names."""
    named_by_connection = _connection_tokens(headers.get("Connection", ""))
    dropped = HOP_BY_HOP | NOT_FORWARDED | MEANING_CHANGING | also_drop | named_by_connection
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in dropped and not name.lower().startswith(MEANING_CHANGING_PREFIX)
    }


def returned_response_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The vendor's headers the app gets: not hop-by-hop, not ours, and none holding a
    control character (an app's HTTP parser may split or cut a header at one)."""
    dropped = HOP_BY_HOP | NOT_RETURNED | _connection_tokens(headers.get("Connection", ""))
    return [
        (name, value)
        for name, value in headers.items()
        if name.lower() not in dropped and not _CONTROL.search(name + value)
    ]


def _connection_tokens(value: str) -> frozenset[str]:
    return frozenset(token.strip().lower() for token in value.split(",") if token.strip())


class UpstreamPool:
    """One ``requests.Session`` per tool, so connections to a vendor are reused."""

    def __init__(
        self,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int,
        retries: int = 0,
        deadline: float = 60.0,
        max_response_bytes: int = 8 * 1024 * 1024,
        backoff: float = 0.0,
    ) -> None:
        self._timeout = (connect_timeout, read_timeout)
        self._pool_size = pool_size
        self._retries = retries
        self._backoff = backoff
        self._deadline = deadline
        self._max_response_bytes = max_response_bytes
        self._sessions: dict[tuple[str, bool], requests.Session] = {}
        self._lock = threading.Lock()

    def send(
        self,
        tool: str,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        allow_private_network: bool = False,
        idempotent: bool = False,
    ) -> UpstreamResponse:
        """The vendor's answer, or :class:`UpstreamFailure` however the call goes wrong.
        ``idempotent``: the call may be sent again if it failed (see ``gateway.retries``)."""
        started = time.perf_counter()
        session = self._session(tool, allow_private_network)
        with deadline(self._deadline) as watch, retried_call(idempotent) as call:
            try:
                response = session.request(
                    method,
                    url,
                    headers=headers,
                    data=body or None,
                    timeout=self._timeout,
                    allow_redirects=False,
                    stream=True,
                )
                with response:
                    if not 200 <= response.status_code <= 599:
                        raise UnusableStatus(response.status_code)
                    content = self._read_capped(response)
                if watch.expired:  # a body that ends when the connection does looks whole
                    raise TimeoutError("the deadline cut the response")
            except SEND_FAILURES as exc:
                raise self._failure(tool, exc, watch.expired, started, call.retries) from exc
            finally:
                observe_retries(tool, call.retries)
        return UpstreamResponse(
            status=response.status_code,
            headers=returned_response_headers(response.headers),
            body=content,
            elapsed=time.perf_counter() - started,
            retries=call.retries,
        )

    def _read_capped(self, response: requests.Response) -> bytes:
        """The body as sent (not decoded), or :class:`ResponseTooLarge` past the cap."""
        declared = response.raw.length_remaining  # None if unsaid; 0 for HEAD, 204 and 304
        if declared is not None and declared > self._max_response_bytes:
            raise ResponseTooLarge(declared)
        chunks, size = [], 0
        for chunk in response.raw.stream(READ_CHUNK_BYTES, decode_content=False):
            size += len(chunk)
            if size > self._max_response_bytes:
                raise ResponseTooLarge(size)
            chunks.append(chunk)
        return b"".join(chunks)

    def _failure(
        self, tool: str, exc: Exception, expired: bool, started: float, retries: int
    ) -> UpstreamFailure:
        status, slug, detail = _classify(exc, expired)
        # Not the exception's text: urllib3 puts the URL in it, with any vendor key in the
        # query. An address refusal names only the host and the address, which IT needs.
        logger.warning(
            "call to tool %r failed: %s (%s)",
            tool,
            slug,
            exc if isinstance(exc, AddressRefused) else _failure_name(exc),
        )
        return UpstreamFailure(
            status, slug, detail, time.perf_counter() - started, retries, failure_kind(exc, slug)
        )

    def _session(self, tool: str, allow_private_network: bool) -> requests.Session:
        # Keyed by the flag too: when IT changes it, the next call gets a fresh session.
        key = (tool, allow_private_network)
        session = self._sessions.get(key)
        if session is None:
            with self._lock:
                session = self._sessions.get(key) or self._new_session(allow_private_network)
                self._sessions[key] = session
        return session

    def _new_session(self, allow_private_network: bool) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no proxy variables or .netrc credentials from the host
        session.headers.clear()  # forward the app's headers, not requests' defaults
        adapter = VettedAdapter(
            allow_private_network,
            pool_connections=1,
            pool_maxsize=self._pool_size,
            max_retries=vendor_retry(self._retries, self._backoff),
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


def _failure_name(exc: Exception) -> str:
    """The exception's type, and that of what it wraps, e.g. ``ConnectionError/ProtocolError``."""
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    return type(exc).__name__ + (f"/{type(cause).__name__}" if cause is not None else "")


#: The kind of vendor error each failure's problem slug is, but for TLS (see failure_kind).
_KINDS = {
    "upstream-address-refused": "address-refused",
    "upstream-response-too-large": "too-large",
    "upstream-timeout": "timeout",
    "upstream-bad-response": "bad-response",
    "upstream-unreachable": "connection",
}


def failure_kind(exc: Exception, slug: str) -> str:
    """A failed TLS handshake or certificate is told apart from other connection failures:
    it is the vendor's (or IT's trust store's) to fix, not the network's."""
    if isinstance(exc, requests.exceptions.SSLError) and slug == "upstream-unreachable":
        return "tls"
    return _KINDS[slug]


def _classify(exc: Exception, expired: bool) -> tuple[int, str, str]:
    """Status, problem slug and detail for a failed call; no vendor text reaches the app."""
    cause = exc.args[0] if isinstance(exc, requests.ConnectionError) and exc.args else exc
    if isinstance(cause, MaxRetryError):  # the tries were used up: what failed last
        cause = cause.reason
    if isinstance(exc, AddressRefused):
        return (
            502,
            "upstream-address-refused",
            f"the tool's host resolves to an address this tool may not reach ({exc.reason}); "
            "IT can allow private networks for the tool",
        )
    if isinstance(exc, ResponseTooLarge):
        return 502, "upstream-response-too-large", "the tool's answer is larger than allowed"
    timed_out = isinstance(exc, requests.Timeout | TimeoutError) or isinstance(
        cause, ReadTimeoutError
    )
    if expired or timed_out:
        return 504, "upstream-timeout", "the tool did not answer in time"
    if isinstance(cause, ProtocolError | HTTPException) or not isinstance(
        exc, requests.RequestException
    ):
        return 502, "upstream-bad-response", "the tool's answer was cut off or malformed"
    return 502, "upstream-unreachable", "the tool could not be reached"

"""Which failed vendor calls are asked again, how soon, and never past their deadline.

urllib3's ``Retry`` does the work: it tries a failed connection again (nothing was sent,
so even a POST cannot arrive twice), and, for a call that may be repeated, a connection
that broke after sending (a pooled one the vendor had closed, a reset) and a 502, 503 or
504; it waits as the vendor's ``Retry-After`` says, else backs off exponentially with
jitter. A vendor that does not answer in time is not asked again: it is busy, and the
call's deadline would mostly be spent waiting on it twice. What one
``Retry`` per tool's session cannot know is the call it is serving: whether its operation
is idempotent (``connectors.spec.Operation.idempotent``) and how much of its deadline
(``gateway.deadline``) is left. So each call opens a :func:`retried_call` scope that
:class:`VendorRetry` reads, and which counts the retries for the exchange log.

A 429 is never retried here: a vendor's rate limit is the whole tool's, and is answered
as such (the app gets it with its ``Retry-After``).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from urllib3.exceptions import InvalidHeader, MaxRetryError, ProtocolError, ResponseError
from urllib3.util import Retry

from gateway.deadline import current_watch

#: Vendor answers that say "try again": its gateway failed, it is overloaded or down.
RETRIED_STATUSES = frozenset({502, 503, 504})


@dataclass
class RetriedCall:
    """One call to a vendor: may it be repeated, and how often it was tried again."""

    idempotent: bool
    retries: int = 0


_call: contextvars.ContextVar[RetriedCall | None] = contextvars.ContextVar(
    "gatehouse_retried_call", default=None
)


@contextmanager
def retried_call(idempotent: bool) -> Iterator[RetriedCall]:
    """The scope of one vendor call; what it yields holds the retries once it ends."""
    call = RetriedCall(idempotent)
    token = _call.set(call)
    try:
        yield call
    finally:
        _call.reset(token)


class VendorRetry(Retry):
    """urllib3's ``Retry``, told by the call in progress whether to repeat it and how long
    it may wait. Its counts (``total``) and backoff are set per tool's session."""

    #: Statuses that a ``Retry-After`` alone makes worth retrying: urllib3's also hold 413
    #: and 429, never retried here (see above).
    RETRY_AFTER_STATUS_CODES = frozenset({503})

    def __init__(self, *args, wait: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: What :meth:`sleep` waits: decided by :meth:`increment`, which checks it fits.
        self.wait = wait

    def _is_read_error(self, err: Exception) -> bool:
        return isinstance(err, ProtocolError)  # not a read timeout (see above)

    def _is_method_retryable(self, method: str) -> bool:
        call = _call.get()
        return call is not None and call.idempotent

    def increment(
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ) -> VendorRetry:
        """The next try, unless urllib3 says no more, or its wait would pass the deadline:
        then the answer in hand goes back to the app, or the error is raised."""
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        retry.wait = retry.waiting(response)
        watch = current_watch()
        if watch is not None and time.monotonic() + retry.wait >= watch.deadline:
            reason = error or ResponseError(f"no time left to wait {retry.wait:.1f} s")
            raise MaxRetryError(_pool, url, reason) from error
        call = _call.get()
        if call is not None:
            call.retries += 1
        return retry

    def waiting(self, response) -> float:
        """Seconds before the next try: the vendor's ``Retry-After`` if it can be read,
        else the backoff."""
        if response is not None and self.respect_retry_after_header:
            with contextlib.suppress(InvalidHeader):
                retry_after = self.get_retry_after(response)
                if retry_after:
                    return retry_after
        return self.get_backoff_time()

    def sleep(self, response=None) -> None:
        if self.wait > 0:
            time.sleep(self.wait)


def vendor_retry(retries: int, backoff: float) -> VendorRetry:
    """The retry rules of a tool's session: at most ``retries`` more tries in all, the
    first at once, the next after ``backoff`` times 2, 4, ... seconds plus up to ``backoff``."""
    return VendorRetry(
        total=retries,
        other=0,  # nor a read timeout, nor a failed TLS handshake
        redirect=0,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=None,  # the call says (_is_method_retryable)
        backoff_factor=backoff,
        backoff_jitter=backoff,
        respect_retry_after_header=True,
        raise_on_redirect=False,
        raise_on_status=False,  # retries used up: the vendor's last answer goes back
    )

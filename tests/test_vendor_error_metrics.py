"""Each way a vendor fails is counted under its own kind in gatehouse_vendor_errors_total.

The vendors are raw sockets on loopback (``tests.raw_vendor``) and an HTTPS server whose
certificate no one trusts; the counts are read from this process' registry, before and
after each call.
"""

from __future__ import annotations

import pytest
import requests
from prometheus_client import REGISTRY

from tests.conftest import apply, get_token
from tests.raw_vendor import head, send_then
from tests.test_proxy import echo_document
from tests.test_vendor_responses import call_vendor, config  # noqa: F401  (fixtures)
from tests.test_vendor_tls import tls_vendor  # noqa: F401  (a fixture)

ERRORS = "gatehouse_vendor_errors_total"


def vendor_errors(kind: str) -> float:
    return REGISTRY.get_sample_value(ERRORS, {"tool": "echo", "kind": kind}) or 0.0


@pytest.mark.parametrize(
    ("script", "status", "kind"),
    [
        (send_then(head("503 Service Unavailable", "Content-Length: 0"), "close"), 503, "5xx"),
        (send_then(head("429 Too Many Requests", "Content-Length: 0"), "close"), 429, "429"),
        (send_then(b"GARBAGE NOT HTTP\r\n\r\n", "close"), 502, "bad-response"),
        (send_then(head("200 OK", "Content-Length: 999999999"), "close"), 502, "too-large"),
        (send_then(head("200 OK", "Content-Length: 10"), "stall"), 504, "timeout"),
    ],
    ids=["5xx", "429", "bad-response", "too-large", "timeout"],
)
def test_a_failing_vendor_is_counted_by_kind(call_vendor, script, status, kind):  # noqa: F811
    before = vendor_errors(kind)
    response, _ = call_vendor(script)
    assert response.status_code == status
    assert vendor_errors(kind) == before + 1


def test_an_answer_that_is_no_failure_is_not_counted(call_vendor):  # noqa: F811
    kinds = ("5xx", "429", "bad-response")
    before = [vendor_errors(kind) for kind in kinds]
    response, _ = call_vendor(send_then(head("404 Not Found", "Content-Length: 0"), "close"))
    assert response.status_code == 404
    assert [vendor_errors(kind) for kind in kinds] == before


def test_an_untrusted_certificate_is_a_tls_error(app, gateway, tls_vendor):  # noqa: F811
    port, _, _ = tls_vendor
    token = get_token(
        gateway, apply(app, echo_document(f"https://localhost:{port}")).new_clients[0]
    )
    before = (vendor_errors("tls"), vendor_errors("connection"))
    response = requests.get(
        f"{gateway}/proxy/echo/x", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 502
    assert (vendor_errors("tls"), vendor_errors("connection")) == (before[0] + 1, before[1])

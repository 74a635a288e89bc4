"""Failures a sandbox vendor shows on command, so that retries, circuit breakers and
vendor quotas can be tested against a server that really fails.

``POST /_sandbox/faults`` arms a fault for one vendor: the next ``times`` requests to it
(every one, if ``times`` is left out) are answered with ``status`` — with a
``Retry-After`` of ``retry_after`` seconds when given, as vendors do on 429 and 503 —
after waiting ``delay`` seconds, if any (a slow vendor). Faults armed for a vendor are
used in the order they were armed. ``GET`` lists what is armed; ``DELETE`` disarms all.
The request is still kept by the recorder: the vendor received it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

from flask import Flask, jsonify, request

#: What a vendor says when it fails, by status (each vendor's fake keeps its own shapes
#: for the errors it raises itself; these are the ones its load balancer would give).
_TITLES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    vendor: str
    status: int
    times: int | None = None
    retry_after: int | None = None
    delay: float = 0.0


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        app.before_request(self._fail_if_armed)
        app.add_url_rule("/_sandbox/faults", "arm_fault", self._arm, methods=["POST"])
        app.add_url_rule("/_sandbox/faults", "list_faults", self._list, methods=["GET"])
        app.add_url_rule("/_sandbox/faults", "clear_faults", self._clear, methods=["DELETE"])

    def _fail_if_armed(self):
        if request.path.startswith("/_sandbox/"):
            return None
        fault = self._take(request.path.split("/")[1])
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        title = _TITLES.get(fault.status, "Error")
        body = {"status": fault.status, "title": title, "detail": "a fault armed in the sandbox"}
        return jsonify(body), fault.status, headers

    def _take(self, vendor: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.vendor != vendor:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _arm(self):
        given = request.get_json(silent=True)
        try:
            fault = _fault_of(given)
        except (TypeError, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400
        with self._lock:
            self._faults.append(fault)
        return jsonify(asdict(fault)), 201

    def _list(self):
        with self._lock:
            return jsonify([asdict(fault) for fault in self._faults])

    def _clear(self):
        with self._lock:
            self._faults.clear()
        return "", 204


def _fault_of(given: object) -> Fault:
    if not isinstance(given, dict) or not isinstance(given.get("vendor"), str):
        raise ValueError("give a JSON object with a vendor and a status")
    unknown = set(given) - {"vendor", "status", "times", "retry_after", "delay"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    status = given.get("status")
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    times, retry_after = given.get("times"), given.get("retry_after")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ValueError("times must be a positive integer")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        raise ValueError("retry_after must be a whole number of seconds")
    delay = given.get("delay", 0)
    if not isinstance(delay, int | float) or not 0 <= delay <= 60:
        raise ValueError("delay must be between 0 and 60 seconds")
    return Fault(given["vendor"], status, times, retry_after, float(delay))

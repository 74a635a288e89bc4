"""A vendor that misbehaves on the wire, for tests: a socket server running a script.

An HTTP server library always speaks correct HTTP; the failures the gateway must survive
(a wrong Content-Length, a garbage status line, a reset mid-body, a trickle) need a
server that writes the bytes itself. Each connection reads the request's head, then runs
the script given; the server notes when the gateway hung up on it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable

Script = Callable[[socket.socket], None]


class RawVendor:
    def __init__(self, script: Script) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.requests: list[bytes] = []
        #: When the gateway closed a connection the script was still writing to.
        self.hung_up_at: list[float] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # stopped
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                received = connection.recv(65536)
                if not received:
                    return
                head += received
            self.requests.append(head)
            try:
                self._script(connection)
            except OSError:
                self.hung_up_at.append(time.monotonic())


def head(status: str = "200 OK", *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode()


def trickle(data: bytes, every: float) -> Script:
    """Sends ``data`` a byte at a time: every read is quick, the whole answer is not."""

    def script(connection: socket.socket) -> None:
        for byte in data:
            connection.sendall(bytes([byte]))
            time.sleep(every)

    return script


def send_then(data: bytes, ending: str) -> Script:
    """Sends ``data``, then closes (``close``), resets (``reset``) or waits (``stall``)."""

    def script(connection: socket.socket) -> None:
        connection.sendall(data)
        if ending == "reset":  # a zero linger makes close send RST instead of FIN
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif ending == "stall":
            with contextlib.suppress(OSError):
                connection.recv(1)  # until the gateway gives up and hangs up

    return script


def chunked_without_end(chunk: bytes, count: int) -> Script:
    """A chunked body that never says how long it will be."""

    def script(connection: socket.socket) -> None:
        connection.sendall(head("200 OK", "Transfer-Encoding: chunked"))
        for _ in range(count):
            connection.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        connection.sendall(b"0\r\n\r\n")

    return script

"""How an app connects to a tool through the gateway, said from the tool's connector.

The app keeps its vendor's official SDK and changes two settings: the base URL (the
gateway's ``/proxy/<slug>``) and the key (the app's gateway key, put where the SDK puts
the vendor's key; the connector's ``app_token`` says where that is). The example is a
``curl`` line of the connector's first reading operation, so a developer can try it at once.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from connectors.spec import ConnectorSpec, Operation, TokenLocation

#: The placeholder the examples use for the app's key.
KEY = "$GATEHOUSE_KEY"
_PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Connection:
    base_url: str
    #: Where the app may put its key, in words ("'Authorization: Bearer <token>'", ...).
    key_locations: tuple[str, ...]
    example: str | None
    docs: str | None


def connection(spec: ConnectorSpec | None, proxy_url: str) -> Connection:
    if spec is None:
        return Connection(proxy_url, (), None, None)
    locations = tuple(location.describe() for location in spec.app_token)
    operation = next(
        (op for op in spec.operations if op.method == "GET"),
        spec.operations[0] if spec.operations else None,
    )
    example = (
        _curl(operation, spec.app_token[0], proxy_url) if operation and spec.app_token else None
    )
    return Connection(proxy_url, locations, example, spec.docs or None)


def _curl(operation: Operation, location: TokenLocation, proxy_url: str) -> str:
    path = _PATH_PARAMETER.sub(r"<\1>", operation.path)
    url = proxy_url + path
    words = ["curl"]
    if operation.method != "GET":
        words += ["-X", operation.method]
    if location.kind == "query":
        url += f"?{location.name}={KEY}"
    words += _key_arguments(location)
    if operation.method in ("POST", "PUT", "PATCH"):
        words += ["-H", "'Content-Type: application/json'", "-d", "'{...}'"]
    words.append(_quoted(url))
    return " ".join(words)


def _key_arguments(location: TokenLocation) -> list[str]:
    if location.kind == "bearer":
        return ["-H", f'"Authorization: Bearer {KEY}"']
    if location.kind == "basic":
        pair = f"{KEY}:" if location.part == "username" else f"app:{KEY}"
        return ["-u", f'"{pair}"']
    if location.kind == "header":
        return ["-H", f'"{location.name}: {location.prefix}{KEY}"']
    return []  # query: in the URL; body: the SDK writes it in the document


def _quoted(url: str) -> str:
    """The URL in double quotes, so the shell expands the key and nothing else."""
    return '"' + url.replace('"', "%22") + '"' if KEY in url else shlex.quote(url)

"""A loaded connector spec: the vendor's operations, how to authenticate, where apps put tokens.

Everything here is immutable and compiled once when a spec is loaded (path patterns,
JSON Schema validators), so matching a call on the hot path is a few regex tests.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jsonschema

from connectors.auth import AuthStrategy
from connectors.pointers import resolve

PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template_params(path: str) -> frozenset[str]:
    """The ``{name}`` parameters of a path template."""
    return frozenset(PARAM.findall(path))


@dataclass(frozen=True)
class SubjectLocation:
    """Where a data subject's identifier is: a body pointer or a path parameter."""

    kind: str
    pointer: str | None = None
    path_param: str | None = None


@dataclass(frozen=True)
class TokenLocation:
    """Where a vendor's SDK puts its API key, so the gateway finds its own token there.

    ``bearer``: ``Authorization: Bearer <token>``; ``basic``: the user name or password of
    HTTP basic authentication (``part``); ``header``: a named header, after an optional
    ``prefix``; ``query``: a named query parameter; ``body``: a field of the JSON body
    (removed before the body is checked and forwarded, wherever the token was found).
    """

    kind: str
    name: str | None = None
    part: str | None = None
    prefix: str = ""
    pointer: str | None = None

    def read(
        self, headers: Mapping[str, str], query: Mapping[str, str], document: Any = None
    ) -> str | None:
        """The token at this location of a request, if one is there."""
        if self.kind == "body":
            value = next((value for _, value in resolve(document, self.pointer)), None)
            return value if isinstance(value, str) and value else None
        if self.kind == "query":
            return query.get(self.name) or None
        if self.kind == "header":
            value = headers.get(self.name, "")
            return (
                value.removeprefix(self.prefix).strip() if value.startswith(self.prefix) else None
            )
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        if self.kind == "bearer":
            return credentials.strip() if scheme.lower() == "bearer" else None
        if scheme.lower() != "basic":
            return None
        try:
            pair = base64.b64decode(credentials.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        username, _, password = pair.partition(":")
        return (username if self.part == "username" else password) or None

    def describe(self) -> str:
        return {
            "bearer": "'Authorization: Bearer <token>'",
            "basic": f"the {self.part} of HTTP basic authentication",
            "header": f"the {self.name} header"
            + (f" after {self.prefix!r}" if self.prefix else ""),
            "query": f"the {self.name} query parameter",
            "body": f"the {self.pointer} field of the JSON body",
        }[self.kind]


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    default_purpose: str
    summary: str = ""
    data_categories: Mapping[str, str] = field(default_factory=dict)
    subjects: tuple[SubjectLocation, ...] = ()
    idempotent: bool = False
    erases: bool = False
    unsubscribes: bool = False
    #: A regular expression per path parameter (default: any one segment).
    param_patterns: Mapping[str, str] = field(default_factory=dict)
    body_validator: jsonschema.Draft202012Validator | None = field(default=None, repr=False)
    query_validator: jsonschema.Draft202012Validator | None = field(default=None, repr=False)
    pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = "".join(
            f"(?P<{part}>{self._param_pattern(part)})" if index % 2 else re.escape(part)
            for index, part in enumerate(PARAM.split(self.path))
        )
        object.__setattr__(self, "pattern", re.compile(regex))

    def _param_pattern(self, name: str) -> str:
        pattern = self.param_patterns.get(name, "[^/]+").removeprefix("^").removesuffix("$")
        return f"(?:{pattern})"

    @property
    def specificity(self) -> int:
        """Literal characters in the template: ``/contacts/batch`` beats ``/contacts/{id}``."""
        return len(PARAM.sub("", self.path))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        params = found.groupdict()
        # A parameter is one path segment, whatever its pattern would allow.
        return None if any("/" in value for value in params.values()) else params


@dataclass(frozen=True)
class ConnectorSpec:
    vendor: str
    name: str
    base_url: str
    credential_fields: frozenset[str]
    auth: AuthStrategy
    app_token: tuple[TokenLocation, ...] = (TokenLocation("bearer"),)
    operations: tuple[Operation, ...] = ()
    docs: str = ""

    @cached_property
    def app_token_headers(self) -> frozenset[str]:
        """Lower-case names of the headers the app's token may be in (never forwarded)."""
        return frozenset(loc.name.lower() for loc in self.app_token if loc.kind == "header")

    @cached_property
    def app_token_params(self) -> frozenset[str]:
        """Query parameters the app's token may be in (never forwarded nor checked)."""
        return frozenset(loc.name for loc in self.app_token if loc.kind == "query")

    @property
    def base_url_needs_account(self) -> bool:
        """True when the default base URL has account-specific parts like ``{dc}``."""
        return "{" in self.base_url

    def operation_for(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The declared operation for this call, most specific first, with its path values."""
        normalised = "/" + path.strip("/")
        for operation in self.operations:
            params = operation.match(method, normalised)
            if params is not None:
                return operation, params
        return None

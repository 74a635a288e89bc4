"""Keeping credentials out of every log line: gunicorn's access and error logs, and ours.

An app sends its gateway token where its vendor's SDK sends the vendor key, which for
some vendors is the query string (GA4's ``api_secret``, Meta's ``access_token``); the
gateway sends vendor keys the same way. A request line, a referrer or a traceback would
carry them into the log. Every parameter a connector spec reads a token from or puts a
credential in, and the usual credential names, is logged as ``[REDACTED]``; so are
credential headers, ``Bearer``/``Basic`` credentials and anything shaped like a JWT or
an app's API key.
People are known to the gateway only as keyed hashes, so the e-mail addresses and phone
numbers a path or a query names (``/contacts/ada@example.com``) are logged as
``[EMAIL]`` and ``[PHONE]``: the request id leads to the exchange record, which holds
their keyed hashes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import cache, partial
from pathlib import Path
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.glogging import SafeAtoms

from connectors.registry import load_spec_file, spec_files
from gateway.config import connector_folders_from_env

REDACTED = "[REDACTED]"
#: Names that carry credentials whichever vendor or framework uses them.
GENERIC_QUERY_NAMES = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "api_key",
        "apikey",
        "key",
        "api_secret",
        "client_secret",
        "secret",
        "password",
        "code",
    }
)
GENERIC_HEADER_NAMES = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_QUERY_PARAMETER = re.compile(r"(^|[?&;])([^=&;\s\"'#?]+)=([^&;\s\"'#]*)")
_HTTP_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
#: An app's API key (``gateway.oauth.api_keys``), wherever an SDK put it.
_API_KEY = re.compile(r"ghk_[A-Za-z0-9_-]+")
#: An e-mail address as a log line shows it: as typed, or percent-encoded in a URL.
_EMAIL = re.compile(r"(?i)[\w.%+-]+(?:@|%40)(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}\b")
#: A phone number in international form, its "+" as typed or percent-encoded.
_PHONE = re.compile(r"(?i)(?<![\w+])(?:\+|%2B)[1-9][0-9]{6,14}\b")


class Redactor:
    def __init__(self, query_names: Iterable[str], header_names: Iterable[str]) -> None:
        self.query_names = frozenset(name.lower() for name in query_names)
        self.header_names = frozenset(name.lower() for name in header_names)
        names = "|".join(re.escape(name) for name in sorted(self.header_names, key=len)[::-1])
        # A header as a dict or a request dump shows it: "'Api-Key': 'value'", "Cookie: value".
        self._header_value = re.compile(rf"(?i)(\b(?:{names})['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}}]+")

    def text(self, text: str) -> str:
        """``text`` with every credential it shows replaced by ``[REDACTED]``."""
        # Each pattern runs only where its mark is: most log values hold none of them.
        lowered = text.lower()
        if "=" in text:
            text = _QUERY_PARAMETER.sub(self._parameter, text)
        if "bearer" in lowered or "basic" in lowered:
            text = _HTTP_CREDENTIALS.sub(rf"\1\2{REDACTED}", text)
        if any(name in lowered for name in self.header_names):
            text = self._header_value.sub(rf"\1{REDACTED}", text)
        if "@" in text or "%40" in text:
            text = _EMAIL.sub("[EMAIL]", text)
        if "+" in text or "%2b" in lowered:
            text = _PHONE.sub("[PHONE]", text)
        if "ghk_" in text:
            text = _API_KEY.sub(REDACTED, text)
        return _JWT.sub(REDACTED, text) if "eyJ" in text else text

    def is_credential_header(self, name: str) -> bool:
        """``name`` as a header (``Api-Key``) or a WSGI variable (``HTTP_API_KEY``)."""
        name = name.lower().removeprefix("http_").replace("_", "-")
        return name in self.header_names

    def _parameter(self, found: re.Match) -> str:
        separator, name, _ = found.groups()
        # Matched as the server will read it: "api%5Fsecret" is api_secret too.
        if unquote_plus(name).lower() in self.query_names:
            return f"{separator}{name}={REDACTED}"
        return found.group(0)


@cache
def redactor_for(folders: tuple[Path, ...]) -> Redactor:
    """The generic names, and those the connector specs in ``folders`` name."""
    query_names, header_names = set(GENERIC_QUERY_NAMES), set(GENERIC_HEADER_NAMES)
    for path in spec_files(folders).values():
        spec = load_spec_file(path)  # parsed once: the catalog snapshot shares it
        query_names |= spec.app_token_params
        header_names |= spec.app_token_headers
        if spec.auth.type in ("query", "header"):  # where the vendor's key is sent
            (query_names if spec.auth.type == "query" else header_names).add(spec.auth.name)
    return Redactor(query_names, header_names)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, traceback and stack before any handler formats it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redactor.text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True


def redact_handlers(logger: logging.Logger, redactor: Redactor) -> None:
    """Put one redacting filter on each of ``logger``'s handlers (replacing an older one)."""
    for handler in logger.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(RedactingFilter(redactor))


def init_app(config) -> None:
    """Redact what the app logs (werkzeug's request lines, errors, Authlib's debug lines)."""
    redact_handlers(logging.getLogger(), redactor_for(config.connector_folders))


class RedactingAccessLogger(GunicornLogger):
    """gunicorn's logger (``logger_class``), with credentials redacted from what it logs."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.redactor = redactor_for(connector_folders_from_env())
        self.atoms_wrapper_class = partial(_RedactedAtoms, redactor=self.redactor)
        redact_handlers(self.error_log, self.redactor)


class _RedactedAtoms(SafeAtoms):
    """The access log's values, each redacted as the log format reads it: a format reads
    a handful of the fifty or so, and redacting them all would cost every request ~0.1 ms."""

    def __init__(self, atoms: dict, redactor: Redactor) -> None:
        super().__init__(atoms)
        self._redactor = redactor

    def __getitem__(self, key: str):
        value = super().__getitem__(key)
        if key == "u":
            return "-"  # the basic-auth user name, where some SDKs put their key
        if key.startswith("{") and self._redactor.is_credential_header(key[1:-2]):
            return REDACTED
        return self._redactor.text(value) if isinstance(value, str) else value

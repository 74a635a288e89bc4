"""Vendor access tokens for the OAuth 2.0 client-credentials strategy, cached per tool.

Authlib's client does the protocol; this keeps each token until shortly before it
expires so that only the first call after expiry waits for the vendor's token endpoint.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from urllib.parse import urljoin

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from requests import RequestException

from connectors.auth import AuthStrategy, fill
from gateway.deadline import deadline
from gateway.vendor_connections import VettedAdapter

#: Used when the vendor does not say how long its token lives (Salesforce does not).
DEFAULT_LIFETIME_SECONDS = 900
#: Refresh this long before the vendor's expiry, so a token never dies in flight.
EARLY_REFRESH_SECONDS = 60


class VendorAuthError(Exception):
    """The vendor's token endpoint refused the tool's credentials or could not be reached."""


class VendorTokens:
    def __init__(self, timeout: tuple[float, float], deadline: float = 60.0) -> None:
        self._timeout = timeout
        self._deadline = deadline
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(
        self,
        strategy: AuthStrategy,
        credentials: Mapping[str, str],
        base_url: str,
        allow_private_network: bool = False,
    ) -> str:
        """The tool's access token; :class:`VendorAuthError`, or ``AddressRefused`` when the
        token endpoint resolves to an address the tool may not reach."""
        url = urljoin(base_url, strategy.token_url)
        client_id = fill(strategy.client_id, credentials)
        secret = fill(strategy.client_secret, credentials)
        key = (url, client_id, hashlib.sha256(secret.encode()).hexdigest())
        cached = self._tokens.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            access_token, lifetime = self._fetch(
                strategy, url, client_id, secret, allow_private_network
            )
            self._tokens[key] = (access_token, time.monotonic() + lifetime - EARLY_REFRESH_SECONDS)
            return access_token

    def _fetch(
        self,
        strategy: AuthStrategy,
        url: str,
        client_id: str,
        secret: str,
        allow_private_network: bool,
    ):
        session = OAuth2Session(
            client_id, secret, token_endpoint_auth_method=strategy.client_auth, scope=strategy.scope
        )
        session.trust_env = False
        # The same address check as the calls themselves: the token URL is the vendor's too.
        adapter = VettedAdapter(allow_private_network)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            with deadline(self._deadline):  # a trickling token endpoint holds no worker either
                token = session.fetch_token(
                    url,
                    grant_type="client_credentials",
                    timeout=self._timeout,
                    allow_redirects=False,
                )
        except AuthlibBaseError as exc:  # the vendor's OAuth error, e.g. invalid_client
            raise VendorAuthError(f"the vendor's token endpoint refused: {exc}") from exc
        except (RequestException, ValueError) as exc:  # their text may name internal hosts
            raise VendorAuthError(
                f"the vendor's token endpoint failed ({type(exc).__name__})"
            ) from exc
        finally:
            session.close()
        lifetime = int(token.get("expires_in") or DEFAULT_LIFETIME_SECONDS)
        return token["access_token"], max(lifetime, EARLY_REFRESH_SECONDS + 1)

"""A real OpenID Provider for single sign-on tests (node-oidc-provider, ``tests/node``).

Use the ``oidc_provider`` fixture (import it into the test module) and give the app its
settings, e.g.::

    from tests.oidc import oidc_provider  # noqa: F401

    @pytest.fixture
    def config(config, oidc_provider):
        return config.with_overrides(oidc=oidc_provider.settings())

:func:`sign_in_through_provider` drives the provider's login form over plain HTTP, as a
browser would, and returns the signed-in ``requests`` session.
"""

from __future__ import annotations

import json
import re
import select
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from gateway.config import OidcSettings

NODE_FOLDER = Path(__file__).parent / "node"
CLIENT_ID = "gatehouse-tests"
CLIENT_SECRET = "gatehouse-tests-secret"
#: How the tests' groups map to Gatehouse (the accounts are in tests/node/oidc_provider.js).
ROLES = {"mkt-growth": "marketer", "it-review": "it_reviewer", "dpo": "auditor"}
DEPARTMENTS = {"mkt-growth": "growth"}
_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


@dataclass(frozen=True)
class Account:
    login: str
    #: the development login form takes any password; this is what the tests type
    password: str
    email: str
    name: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str
    accounts: dict[str, Account]

    def settings(self, **changes) -> OidcSettings:
        """Gatehouse's settings for this provider (roles and departments of the tests)."""
        defaults = {"roles": ROLES, "departments": DEPARTMENTS, "name": "Test IdP"}
        return OidcSettings(
            self.issuer, self.client_id, self.client_secret, **{**defaults, **changes}
        )


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the OpenID Provider of the tests needs it")
    process = subprocess.Popen(
        [node, str(NODE_FOLDER / "oidc_provider.js"), "0", CLIENT_ID, CLIENT_SECRET],
        cwd=NODE_FOLDER,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        started = _first_line(process, timeout=30)
        provider = OidcProvider(
            started["issuer"],
            CLIENT_ID,
            CLIENT_SECRET,
            {
                login: Account(login, "any password", a["email"], a["name"], tuple(a["groups"]))
                for login, a in started["accounts"].items()
            },
        )
        discovery = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10)
        discovery.raise_for_status()
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)


def _first_line(process: subprocess.Popen, timeout: float) -> dict:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError(
            "the OpenID Provider did not start "
            "(run `make tests/node/node_modules/.installed-stamp`)"
        )
    return json.loads(line)


def sign_in_through_provider(
    gateway_url: str,
    provider: OidcProvider,
    login: str,
    browser: requests.Session | None = None,
    next_page: str | None = None,
) -> requests.Response:
    """Click "Sign in with ..." on the gateway's sign-in page, fill in the provider's login
    form, consent, and follow the redirects back; ``browser`` keeps the cookies."""
    browser = browser or requests.Session()
    account = provider.accounts.get(login)
    sign_in_page = browser.get(f"{gateway_url}/portal/sign-in", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in_page.text).group(1)
    form = {"csrf_token": token, **({"next": next_page} if next_page else {})}
    answer = browser.post(f"{gateway_url}/portal/sign-in/oidc", data=form, timeout=10)
    while answer.url.startswith(provider.issuer) and _FORM.search(answer.text):
        action, inner = _FORM.search(answer.text).groups()
        fields = dict(_HIDDEN.findall(inner))
        fields.update(login=login, password=account.password if account else "any password")
        answer = browser.post(urljoin(answer.url, unescape(action)), data=fields, timeout=10)
    return answer

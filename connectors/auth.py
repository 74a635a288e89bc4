"""How the gateway presents a vendor credential, as declared by a connector spec.

A strategy is data (``type`` plus templates naming credential fields); applying it
adds headers or query parameters to an outgoing request. Templates such as
``"{api_key}"`` are filled from the tool's decrypted credentials. The OAuth 2.0
client-credentials strategy asks a token source for a (cached) vendor access token.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from string import Formatter


class CredentialMissing(KeyError):
    """The tool's stored credentials lack a field its connector needs."""


@dataclass(frozen=True)
class AuthStrategy:
    type: str
    name: str | None = None
    value: str | None = None
    username: str | None = None
    password: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_auth: str = "client_secret_basic"
    scope: str | None = None

    @classmethod
    def from_spec(cls, spec: Mapping) -> AuthStrategy:
        return cls(**spec)

    def credential_fields(self) -> set[str]:
        templates = (self.value, self.username, self.password, self.client_id, self.client_secret)
        return {
            field
            for template in templates
            if template
            for _, field, _, _ in Formatter().parse(template)
            if field
        }

    def apply(
        self,
        credentials: Mapping[str, str],
        headers: dict,
        params: dict,
        vendor_token: Callable[[AuthStrategy, Mapping[str, str]], str],
    ) -> None:
        """Add the credential to ``headers`` or ``params``; ``vendor_token`` serves OAuth."""
        if self.type == "basic":
            pair = f"{fill(self.username, credentials)}:{fill(self.password, credentials)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif self.type == "bearer":
            headers["Authorization"] = "Bearer " + fill(self.value, credentials)
        elif self.type == "header":
            headers[self.name] = fill(self.value, credentials)
        elif self.type == "query":
            params[self.name] = fill(self.value, credentials)
        elif self.type == "oauth2_client_credentials":
            headers["Authorization"] = "Bearer " + vendor_token(self, credentials)
        else:
            raise ValueError(f"unknown auth strategy {self.type!r}")


def fill(template: str | None, credentials: Mapping[str, str]) -> str:
    try:
        return (template or "").format_map(credentials)
    except KeyError as exc:
        raise CredentialMissing(exc.args[0]) from exc

"""Connector specs and auth strategies."""

from __future__ import annotations

import base64

import pytest

from connectors.auth import AuthStrategy, CredentialMissing
from connectors.registry import SpecError, load_spec, parse_spec


def no_oauth(strategy, credentials):
    raise AssertionError("only the OAuth strategy asks for a vendor token")


def test_shipped_mailchimp_spec_loads():
    spec = load_spec("mailchimp")
    assert spec.credential_fields == {"api_key"}
    assert spec.base_url_needs_account


def test_unknown_connector_names_the_known_ones():
    with pytest.raises(SpecError, match=r"no connector 'nosuch' \(known: .*mailchimp"):
        load_spec("nosuch")


def test_spec_not_matching_the_meta_schema_is_refused():
    with pytest.raises(SpecError, match="auth"):
        parse_spec(
            {
                "vendor": "acme",
                "name": "Acme",
                "base_url": "https://x",
                "credentials": {},
                "auth": {"type": "magic"},
                "operations": [],
            },
            "x.yaml",
        )


def test_auth_using_an_undeclared_credential_is_refused():
    with pytest.raises(SpecError, match=r"undeclared credentials \['token'\]"):
        parse_spec(
            {
                "vendor": "acme",
                "name": "Acme",
                "base_url": "https://x",
                "credentials": {},
                "auth": {"type": "bearer", "value": "{token}"},
                "operations": [],
            },
            "x.yaml",
        )


@pytest.mark.parametrize(
    ("strategy", "headers", "params"),
    [
        ({"type": "bearer", "value": "{token}"}, {"Authorization": "Bearer T"}, {}),
        ({"type": "header", "name": "X-Api-Key", "value": "{token}"}, {"X-Api-Key": "T"}, {}),
        ({"type": "query", "name": "api_key", "value": "{token}"}, {}, {"api_key": "T"}),
        (
            {"type": "basic", "username": "{token}", "password": ""},
            {"Authorization": "Basic " + base64.b64encode(b"T:").decode()},
            {},
        ),
    ],
)
def test_strategies_place_the_credential(strategy, headers, params):
    got_headers, got_params = {}, {}
    AuthStrategy.from_spec(strategy).apply({"token": "T"}, got_headers, got_params, no_oauth)
    assert (got_headers, got_params) == (headers, params)


def test_missing_credential_is_reported():
    with pytest.raises(CredentialMissing):
        AuthStrategy.from_spec({"type": "bearer", "value": "{token}"}).apply({}, {}, {}, no_oauth)

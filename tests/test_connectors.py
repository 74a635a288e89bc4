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


def spec_with(operations: list[dict]):
    return parse_spec(
        {
            "vendor": "acme",
            "name": "Acme",
            "base_url": "https://x",
            "credentials": {},
            "auth": {"type": "bearer", "value": "x"},
            "operations": operations,
        },
        "acme.yaml",
    )


def test_path_param_patterns_keep_literals_out():
    spec = spec_with(
        [
            {
                "id": "get_contact",
                "method": "GET",
                "path": "/contacts/{id}",
                "default_purpose": "sales",
                "path_params": {"id": {"pattern": "^[0-9a-f]{8}-[0-9a-f-]{27}$"}},
            }
        ]
    )
    contact = "0f8e2a8c-1d2b-4c3d-8e9f-0a1b2c3d4e5f"
    assert spec.operation_for("GET", f"contacts/{contact}")[1] == {"id": contact}
    assert spec.operation_for("GET", "contacts/exports") is None


def test_a_parameter_never_spans_segments():
    spec = spec_with(
        [
            {
                "id": "get_contact",
                "method": "GET",
                "path": "/contacts/{id}",
                "default_purpose": "sales",
                "path_params": {"id": {"pattern": ".+"}},
            }
        ]
    )
    assert spec.operation_for("GET", "contacts/a/b") is None


def test_path_params_must_name_a_parameter_and_be_valid():
    with pytest.raises(SpecError) as error:
        spec_with(
            [
                {
                    "id": "x",
                    "method": "GET",
                    "path": "/contacts/{id}",
                    "default_purpose": "sales",
                    "path_params": {"ident": {"pattern": "("}},
                }
            ]
        )
    assert "path_params/ident: not in the path" in str(error.value)
    assert "not a regular expression" in str(error.value)

"""Every declared operation of every shipped connector, through the gateway to its sandbox.

Each vendor has a sample file in ``tests/samples/<vendor>.yaml``: one sample call per
operation (sent in file order, so a create comes before its read), one invalid body
with the pointer the gateway must report, and one undeclared call. The app presents
its token where the vendor's SDK puts its key (the spec's first ``app_token``
location); the sandbox checks the vendor credential as the real API does.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import yaml
from sqlalchemy import select

from connectors.classify import classify
from connectors.registry import SPECS_DIR, load_spec
from connectors.sandbox import vendor_modules
from connectors.spec import TokenLocation
from gateway.audit.models import ExchangeRecord
from gateway.db import db
from policies.subjects import normalise
from tests.conftest import apply, get_token, grant_consent, sandbox_requests

SAMPLES = Path(__file__).parent / "samples"
VENDORS = sorted(path.stem for path in SPECS_DIR.glob("*.yaml"))


def samples(vendor: str) -> dict:
    return yaml.safe_load((SAMPLES / f"{vendor}.yaml").read_text())


def catalog(vendor: str, sandbox_url: str) -> dict:
    """The vendor's tool at the sandbox, processing in the EEA, granted all it declares."""
    spec = load_spec(vendor)
    return {
        "tools": [
            {
                "slug": vendor,
                "name": spec.name,
                "connector": vendor,
                "base_url": sandbox_url + samples(vendor)["base_path"],
                "allow_private_network": True,  # the sandbox listens on loopback
                "status": "approved",
                "country": "IE",
                "credentials": dict(vendor_modules()[vendor].CREDENTIALS),
            }
        ],
        "grants": [
            {
                "department": "growth",
                "tool": vendor,
                "purposes": sorted({op.default_purpose for op in spec.operations}),
                "data_categories": sorted(
                    {category for op in spec.operations for category in op.data_categories.values()}
                ),
            }
        ],
        "clients": [{"name": f"{vendor}-app", "department": "growth"}],
    }


def consent_to_samples(app, vendor: str) -> None:
    """Every person the samples name consented to the purpose of the call naming them."""
    spec, examples = load_spec(vendor), samples(vendor)
    methods = {op.id: op.method for op in spec.operations}
    calls = [(methods[name], sample) for name, sample in examples["operations"].items()]
    calls.append((examples["invalid"]["method"], examples["invalid"]))
    for method, sample in calls:
        operation, params = spec.operation_for(method, sample["path"])
        for subject in classify(operation, sample.get("body"), params).subjects:
            if normalise(subject.kind, subject.identifier) is not None:
                grant_consent(app, operation.default_purpose, subject.identifier, kind=subject.kind)


def consent_to_every_purpose(app, vendor: str, *identifiers: str, kind: str = "email") -> None:
    """These people consented to every purpose the vendor's operations are used for."""
    for purpose in sorted({op.default_purpose for op in load_spec(vendor).operations}):
        grant_consent(app, purpose, *identifiers, kind=kind)


def with_token(location: TokenLocation, token: str, headers: dict, params: dict) -> None:
    """Put the gateway token where the vendor's SDK would put its key."""
    if location.kind == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif location.kind == "basic":
        pair = f"sdk-user:{token}" if location.part == "password" else f"{token}:"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif location.kind == "header":
        headers[location.name] = location.prefix + token
    else:
        params[location.name] = token


def call(gateway: str, vendor: str, token: str, sample: dict, method: str) -> requests.Response:
    headers, params = dict(sample.get("headers", {})), dict(sample.get("query", {}))
    with_token(load_spec(vendor).app_token[0], token, headers, params)
    return requests.request(
        method,
        f"{gateway}/proxy/{vendor}/{sample['path']}",
        params=params,
        headers=headers,
        json=sample.get("body"),
        timeout=10,
    )


@pytest.fixture
def connected(app, gateway, sandbox, request):
    vendor = request.param
    client = apply(app, catalog(vendor, sandbox)).new_clients[0]
    consent_to_samples(app, vendor)
    return vendor, get_token(gateway, client)


def test_every_shipped_connector_has_samples_and_a_sandbox():
    assert set(VENDORS) <= {path.stem for path in SAMPLES.glob("*.yaml")}
    assert set(VENDORS) <= set(vendor_modules())


@pytest.mark.parametrize("connected", VENDORS, indirect=True)
def test_each_declared_operation_reaches_the_sandbox(app, gateway, sandbox, connected):
    vendor, token = connected
    spec, examples = load_spec(vendor), samples(vendor)
    assert {op.id for op in spec.operations} == set(examples["operations"]), "one sample each"
    base_path = examples["base_path"]
    for operation_id, sample in examples["operations"].items():
        operation = next(op for op in spec.operations if op.id == operation_id)
        response = call(gateway, vendor, token, sample, operation.method)
        assert response.status_code == sample.get("status", 200), (operation_id, response.text)
        assert response.headers["Gatehouse-Decision"] == "allow"
        received = sandbox_requests(sandbox)[-1]
        assert received["method"] == operation.method, operation_id
        assert received["path"] == f"{base_path}/{sample['path']}", operation_id
        if "body" in sample:
            assert json.loads(received["body"]) == sample["body"], operation_id
        sent_query = parse_qs(received["query"])
        for name, value in sample.get("query", {}).items():
            assert sent_query.get(name) == [str(value)], operation_id
        assert token not in json.dumps(received), (
            f"{operation_id}: the app token reached the vendor"
        )
        with app.app_context():
            record = db.session.scalar(
                select(ExchangeRecord).where(
                    ExchangeRecord.request_id == response.headers["X-Request-Id"]
                )
            )
        assert record.operation == operation_id


@pytest.mark.parametrize("connected", VENDORS, indirect=True)
def test_invalid_body_is_422_with_the_pointer(gateway, sandbox, connected):
    vendor, token = connected
    invalid = samples(vendor)["invalid"]
    response = call(gateway, vendor, token, invalid, invalid["method"])
    assert response.status_code == 422, response.text
    pointers = [error["pointer"] for error in response.json()["errors"]]
    assert invalid["pointer"] in pointers
    assert sandbox_requests(sandbox) == []


@pytest.mark.parametrize("connected", VENDORS, indirect=True)
def test_undeclared_call_is_refused_before_the_sandbox(gateway, sandbox, connected):
    vendor, token = connected
    undeclared = samples(vendor)["undeclared"]
    response = call(gateway, vendor, token, undeclared, undeclared["method"])
    assert response.status_code == 403, response.text
    assert response.json()["reasons"][0]["rule"] == "operation_not_declared"
    assert sandbox_requests(sandbox) == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_sandbox_refuses_a_wrong_vendor_credential(app, gateway, sandbox, vendor):
    """Proof that the credential the others presented was checked, not ignored."""
    document = catalog(vendor, sandbox)
    tool = document["tools"][0]
    tool["credentials"] = {name: f"wrong-{value}" for name, value in tool["credentials"].items()}
    token = get_token(gateway, apply(app, document).new_clients[0])
    first_id, first = next(iter(samples(vendor)["operations"].items()))
    operation = next(op for op in load_spec(vendor).operations if op.id == first_id)
    response = call(gateway, vendor, token, first, operation.method)
    if response.status_code == 502:
        assert response.json()["type"].endswith("/vendor-auth-failed")
    else:
        assert response.status_code in (401, 403), response.text

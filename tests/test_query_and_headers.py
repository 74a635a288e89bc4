"""Outside the body: the query string is checked as the vendor will read it (one reading
per parameter), and whoever an undeclared parameter or a forwarded header names is a
data subject."""

from __future__ import annotations

import jsonschema
import requests

from connectors.query import query_document
from connectors.spec import Operation
from tests.conftest import sandbox_requests
from tests.test_proxy import assert_problem

MEMBERS = "/proxy/mailchimp/lists/a1b2c3d4e5/members"


def get(gateway: str, token: str, query: str) -> requests.Response:
    return requests.get(
        f"{gateway}{MEMBERS}?{query}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_a_parameter_given_twice_is_refused_so_the_vendor_cannot_read_the_other_value(
    gateway, sandbox, demo_token
):
    problem = assert_problem(get(gateway, demo_token, "count=10&count=1000"), 422, "invalid-body")
    assert {
        "pointer": "/count",
        "message": "is given more than once; the vendor might read either",
    } in (problem["errors"])
    assert problem["reasons"][0]["rule"] == "invalid_body"
    assert sandbox_requests(sandbox) == []


def test_a_query_that_is_not_utf8_is_refused(gateway, sandbox, demo_token):
    problem = assert_problem(
        get(gateway, demo_token, "status=subscribed&tag=%FF"), 422, "invalid-body"
    )
    assert "not UTF-8" in problem["errors"][0]["message"]
    assert sandbox_requests(sandbox) == []


def test_a_person_named_in_an_undeclared_parameter_needs_consent(gateway, sandbox, demo_token):
    """Ada and Alan consented to e-mail marketing in the demo; Eve did not."""
    refused = assert_problem(
        get(gateway, demo_token, "email=eve%40example.com"), 403, "policy-denied"
    )
    assert refused["reasons"] == [
        {
            "rule": "consent",
            "message": "query:email: no consent on record for 'marketing.communications.email'",
        }
    ]
    assert sandbox_requests(sandbox) == []
    assert get(gateway, demo_token, "email=ada%40example.com").status_code == 200
    assert [r["query"] for r in sandbox_requests(sandbox)] == ["email=ada%40example.com"]


def test_a_repeated_parameter_is_a_list_where_the_schema_takes_an_array():
    schema = {
        "type": "object",
        "properties": {"tag": {"type": "array", "items": {"type": "string"}}},
    }
    operation = Operation(
        "x",
        "GET",
        "/x",
        "essential.service.operations",
        query_validator=jsonschema.Draft202012Validator(schema),
    )
    query = "tag=a&tag=b&api_secret=t&api_secret=u"
    assert query_document(operation, query, ignored=["api_secret"]) == ({"tag": ["a", "b"]}, [])


def test_a_person_named_in_a_header_the_vendor_gets_needs_consent(gateway, sandbox, demo_token):
    """Headers reach the vendor too: an address in one names a person like a field does."""
    headers = {"Authorization": f"Bearer {demo_token}", "X-Contact": "Eve <eve@example.com>"}
    response = requests.get(f"{gateway}{MEMBERS}", headers=headers, timeout=10)
    refused = assert_problem(response, 403, "policy-denied")
    assert refused["reasons"][0]["message"].startswith("header:x-contact: no consent on record")
    assert sandbox_requests(sandbox) == []
    headers["X-Contact"] = "ada@example.com"  # Ada consented
    assert requests.get(f"{gateway}{MEMBERS}", headers=headers, timeout=10).status_code == 200

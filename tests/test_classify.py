"""Pointers with wildcards, body validation at the field, classification, subject keys."""

from __future__ import annotations

import pytest

from connectors.classify import classify, validate_body
from connectors.pointers import parse, render, resolve
from connectors.registry import parse_inline_spec
from policies.subjects import normalise, subject_key

BATCH = {
    "members": [
        {"email_address": "ada@example.com", "merge_fields": {"FNAME": "Ada"}},
        {"email_address": "alan@example.com", "merge_fields": {}},
    ]
}


def test_wildcards_reach_every_item():
    found = dict(resolve(BATCH, "/members/*/email_address"))
    assert found == {
        "/members/0/email_address": "ada@example.com",
        "/members/1/email_address": "alan@example.com",
    }
    assert list(resolve(BATCH, "/members/*/merge_fields/FNAME")) == [
        ("/members/0/merge_fields/FNAME", "Ada")
    ]
    assert list(resolve(BATCH, "/nothing/*")) == []
    assert list(resolve([1, 2], "/01")) == []


def test_pointer_escapes_round_trip():
    assert parse("/a~1b/c~0d") == ("a/b", "c~d")
    assert render(("a/b", "c~d")) == "/a~1b/c~0d"
    assert dict(resolve({"a/b": 1}, "/a~1b")) == {"/a~1b": 1}


def operation():
    spec = parse_inline_spec(
        {
            "credentials": {},
            "auth": {"type": "bearer", "value": "x"},
            "operations": [
                {
                    "id": "batch",
                    "method": "POST",
                    "path": "/lists/{list_id}",
                    "default_purpose": "marketing.communications.email",
                    "body": {
                        "type": "object",
                        "required": ["members"],
                        "additionalProperties": False,
                        "properties": {
                            "members": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["email_address"],
                                    "properties": {"email_address": {"type": "string"}},
                                },
                            }
                        },
                    },
                    "data_categories": {
                        "/members/*/email_address": "user.contact.email",
                        "/members/*/merge_fields/FNAME": "user.name.first",
                    },
                    "subjects": [
                        {"kind": "email", "pointer": "/members/*/email_address"},
                        {"kind": "external_id", "path_param": "list_id"},
                    ],
                }
            ],
        },
        "Test",
        "https://x",
        "test",
    )
    return spec.operations[0]


def test_violations_point_at_the_field():
    violations = validate_body(operation(), {"members": [{"name": 1}], "extra": True})
    assert [v.as_dict() for v in violations] == [
        {"pointer": "/extra", "message": "is not allowed here"},
        {"pointer": "/members/0/email_address", "message": "is required"},
        # the items' schema says nothing of other members: closed
        {"pointer": "/members/0/name", "message": "is not allowed here"},
    ]


def test_classification_finds_categories_and_each_subject():
    found = classify(operation(), BATCH, {"list_id": "abc"})
    assert found.categories == {"user.contact.email", "user.name.first"}
    assert [(s.kind, s.identifier, s.location) for s in found.subjects] == [
        ("email", "ada@example.com", "/members/0/email_address"),
        ("email", "alan@example.com", "/members/1/email_address"),
        ("external_id", "abc", "path:list_id"),
    ]


@pytest.mark.parametrize(
    ("kind", "raw", "normalised"),
    [
        ("email", "  Ada@Example.COM ", "ada@example.com"),
        ("email", "not-an-address", None),
        ("phone", "+44 (20) 7946-0958", "+442079460958"),
        ("phone", "0044 20 7946 0958", "+442079460958"),
        ("phone", "020 7946 0958", None),
        ("external_id", " 42 ", "42"),
    ],
)
def test_identifiers_are_normalised(kind, raw, normalised):
    assert normalise(kind, raw) == normalised


def test_subject_keys_are_keyed_and_kind_specific():
    key = subject_key(b"pepper", "email", "Ada@example.com")
    assert key == subject_key(b"pepper", "email", "ada@example.com ")
    assert key != subject_key(b"other pepper", "email", "ada@example.com")
    assert subject_key(b"pepper", "external_id", "ada@example.com") != key
    assert subject_key(b"pepper", "email", "nope") is None

"""Replacing the signing keys with ``gatehouse keys``: a new token key signs at once while
tokens of the old one stay valid; retiring the old key waits for those tokens unless told
``--now``, and then they are refused at once, even where already verified; a new audit
key signs checkpoints while those of the old one still verify. Real CLI processes on the
test database, a served gateway."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from joserfc import jws
from sqlalchemy import select

from gateway.db import db, utcnow
from gateway.oauth.models import SigningKey
from gateway.signing_keys import RetirementRefused, retire_token_keys
from tests.conftest import get_token
from tests.test_proxy import assert_problem
from tests.test_retries import PING


def ping(gateway: str, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(gateway + PING, headers=headers, timeout=20)


def call(gateway: str, token: str) -> int:
    return ping(gateway, token).status_code


def kid_of(token: str) -> str:
    return jws.extract_compact(token.encode()).headers()["kid"]


def published_kids(gateway: str) -> list[str]:
    jwks = requests.get(gateway + "/oauth/jwks.json", timeout=10).json()
    return [key["kid"] for key in jwks["keys"]]


def listed(cli) -> list[dict]:
    done = cli("keys", "list", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def new_key(cli, kind: str) -> str:
    done = cli("keys", "new", kind)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"New {kind} signing key ")
    return done.stdout.split()[4].rstrip(":")


def test_a_new_token_key_signs_at_once_and_the_old_one_still_verifies(gateway, demo, cli):
    old_token = get_token(gateway, demo)
    assert call(gateway, old_token) == 200

    kid = new_key(cli, "token")

    new_token = get_token(gateway, demo)
    assert kid_of(new_token) == kid != kid_of(old_token)
    assert kid_of(old_token) in published_kids(gateway)
    assert published_kids(gateway)[-1] == kid
    assert call(gateway, new_token) == 200
    assert call(gateway, old_token) == 200
    tokens = [key for key in listed(cli) if key["kind"] == "token"]
    assert [key["signs"] for key in tokens] == [False] * (len(tokens) - 1) + [True]
    assert tokens[-1]["key_id"] == kid


def test_retiring_waits_for_the_old_keys_tokens_unless_now(gateway, demo, cli):
    old_token = get_token(gateway, demo)
    assert call(gateway, old_token) == 200  # verified, and kept verified by this instance
    kid = new_key(cli, "token")

    refused = cli("keys", "retire", "token")
    assert refused.returncode == 1
    assert "Nothing was retired: tokens signed by the older keys may be valid until" in (
        refused.stderr
    )
    assert call(gateway, old_token) == 200

    retired = cli("keys", "retire", "token", "--now")
    assert retired.returncode == 0, retired.stderr
    assert kid_of(old_token) in retired.stdout
    assert published_kids(gateway) == [kid]
    assert_problem(ping(gateway, old_token), 401, "invalid-token")
    assert call(gateway, get_token(gateway, demo)) == 200
    assert "nothing to retire" in cli("keys", "retire", "token").stdout


def test_once_the_old_keys_tokens_have_expired_they_are_retired_without_being_told(
    app, gateway, demo, cli
):
    get_token(gateway, demo)
    kid = new_key(cli, "token")
    with app.app_context():
        newest = db.session.scalars(select(SigningKey).where(SigningKey.kid == kid)).one()
        newest.created_at = utcnow() - timedelta(seconds=630)  # a token lives 600 s, + 30
        db.session.commit()
        with pytest.raises(RetirementRefused):
            retire_token_keys(db.session, token_ttl_seconds=600 + 60, at_once=False)
        retired = retire_token_keys(db.session, token_ttl_seconds=600, at_once=False)
        assert retired and kid not in retired
        assert db.session.scalars(select(SigningKey.kid)).all() == [kid]


def test_a_new_audit_key_signs_checkpoints_and_the_old_ones_still_verify(
    gateway, demo, cli, tmp_path
):
    assert call(gateway, get_token(gateway, demo)) == 200
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert cli("audit", "checkpoint", "-o", str(first)).returncode == 0

    kid = new_key(cli, "audit")
    assert call(gateway, get_token(gateway, demo)) == 200
    assert cli("audit", "checkpoint", "-o", str(second)).returncode == 0

    old_kid = json.loads(first.read_text())["key_id"]
    assert json.loads(second.read_text())["key_id"] == kid != old_kid
    for checkpoint in (first, second):
        verified = cli("audit", "verify", "--checkpoint", str(checkpoint))
        assert verified.returncode == 0, verified.stdout + verified.stderr
    audit_keys = [key for key in listed(cli) if key["kind"] == "audit"]
    assert [(key["key_id"], key["signs"]) for key in audit_keys] == [(old_kid, False), (kid, True)]
    assert cli("keys", "retire", "audit").returncode == 2  # never: they verify what they signed


def test_an_unknown_kind_is_refused_with_the_kinds(cli):
    done = cli("keys", "new", "session")
    assert done.returncode == 2
    assert "'session' is not one of 'token', 'audit'" in done.stderr

"""Rotating GATEHOUSE_ENCRYPTION_KEYS to the end: a new key put first, ``gatehouse keys
re-encrypt``, the old key removed, and the gateway still calls vendors, accepts the
tokens it issued and signs checkpoints. Real CLI processes on the test database."""

from __future__ import annotations

import json

import requests
from cryptography.fernet import Fernet
from sqlalchemy import select

from catalog.models import Tool
from gateway.app import create_app
from gateway.audit.signing import AuditKey
from gateway.db import db
from gateway.oauth.models import SigningKey
from tests.conftest import close, get_token, serve
from tests.test_proxy import MEMBER, MEMBERS_PATH

NEW_KEY = Fernet.generate_key().decode()


def stored_ciphertexts(app) -> list[str]:
    with app.app_context():
        return [
            *db.session.scalars(select(Tool.credentials_encrypted)),
            *db.session.scalars(select(SigningKey.private_key_encrypted)),
            *db.session.scalars(select(AuditKey.private_key_encrypted)),
        ]


def test_after_re_encryption_the_old_key_can_go(app, gateway, demo, config, cli, cli_env, tmp_path):
    token = get_token(gateway, demo)  # makes the token signing key
    assert cli("audit", "checkpoint", "-o", str(tmp_path / "first.json")).returncode == 0
    old_key = cli_env["GATEHOUSE_ENCRYPTION_KEYS"]
    cli_env["GATEHOUSE_ENCRYPTION_KEYS"] = f"{NEW_KEY},{old_key}"

    done = cli("keys", "re-encrypt", "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["complete"] is True
    assert report["moved"] == {
        "vendor credentials": 1,
        "token signing keys": 1,
        "audit signing keys": 1,
    }
    only_new = Fernet(NEW_KEY.encode())
    assert all(only_new.decrypt(value.encode()) for value in stored_ciphertexts(app))

    rotated = create_app(config.with_overrides(encryption_keys=(NEW_KEY,)))
    live = serve(rotated)
    try:
        answer = requests.post(
            live.url + MEMBERS_PATH,
            json=MEMBER,
            headers={"Authorization": f"Bearer {token}"},  # issued before the rotation
            timeout=20,
        )
        assert answer.status_code == 200, answer.text
    finally:
        live.stop()
        close(rotated)
    cli_env["GATEHOUSE_ENCRYPTION_KEYS"] = NEW_KEY
    assert cli("audit", "checkpoint", "-o", str(tmp_path / "second.json")).returncode == 0


def test_a_value_no_key_decrypts_is_named_and_nothing_changes(app, gateway, demo, cli, cli_env):
    get_token(gateway, demo)
    before = stored_ciphertexts(app)
    cli_env["GATEHOUSE_ENCRYPTION_KEYS"] = NEW_KEY  # the key in use was dropped too early

    done = cli("keys", "re-encrypt")

    assert done.returncode == 1
    assert "vendor credentials: mailchimp: no listed key decrypts it" in done.stderr
    assert "token signing keys:" in done.stderr
    assert "Nothing was re-encrypted" in done.stderr
    assert stored_ciphertexts(app) == before

"""Configuration from the environment: defaults, validation, demo secrets."""

from __future__ import annotations

import json

import pytest

from gateway.config import Config, ConfigError, generate_secrets

SECRETS = {f"GATEHOUSE_{name}": value for name, value in generate_secrets().items()}


def test_defaults(tmp_path):
    config = Config.from_env({**SECRETS, "GATEHOUSE_INSTANCE_PATH": str(tmp_path)})
    assert config.database_url == f"sqlite:///{tmp_path / 'gatehouse.db'}"
    assert config.redis_url is None
    assert config.token_ttl_seconds == 600
    assert config.demo is False
    assert config.upstream_deadline == 60.0
    assert config.upstream_max_response_bytes == 8 * 1024 * 1024
    assert (config.database_timeout, config.audit_timeout) == (3.0, 3.0)
    assert config.limit_statements is True


def test_vendor_answer_limits_come_from_the_environment():
    config = Config.from_env(
        {
            **SECRETS,
            "GATEHOUSE_UPSTREAM_DEADLINE": "12.5",
            "GATEHOUSE_UPSTREAM_MAX_RESPONSE_BYTES": "65536",
        }
    )
    assert (config.upstream_deadline, config.upstream_max_response_bytes) == (12.5, 65536)


def test_retries_and_circuit_breakers_are_set_from_the_environment():
    defaults = Config.from_env(SECRETS)
    assert (defaults.upstream_retries, defaults.upstream_backoff) == (2, 0.25)
    assert (defaults.breaker_failures, defaults.breaker_open_seconds) == (5, 30.0)
    config = Config.from_env(
        {
            **SECRETS,
            "GATEHOUSE_UPSTREAM_RETRIES": "3",
            "GATEHOUSE_UPSTREAM_BACKOFF": "0",
            "GATEHOUSE_BREAKER_FAILURES": "0",
            "GATEHOUSE_BREAKER_OPEN_SECONDS": "7.5",
        }
    )
    assert (config.upstream_retries, config.upstream_backoff) == (3, 0.0)
    assert (config.breaker_failures, config.breaker_open_seconds) == (0, 7.5)


def test_the_waits_for_the_database_are_set_from_the_environment():
    config = Config.from_env(
        {**SECRETS, "GATEHOUSE_DATABASE_TIMEOUT": "1.5", "GATEHOUSE_AUDIT_TIMEOUT": "2"}
    )
    assert (config.database_timeout, config.audit_timeout) == (1.5, 2.0)


def test_changes_are_listened_for_and_the_poll_is_a_safety_net_unless_told():
    config = Config.from_env(SECRETS)
    assert (config.change_notifications, config.snapshot_poll) == (True, 30.0)
    config = Config.from_env(
        {**SECRETS, "GATEHOUSE_CHANGE_NOTIFICATIONS": "off", "GATEHOUSE_SNAPSHOT_POLL": "5"}
    )
    assert (config.change_notifications, config.snapshot_poll) == (False, 5.0)


def test_the_gateways_egress_addresses_are_networks():
    config = Config.from_env({**SECRETS, "GATEHOUSE_EGRESS_ADDRESSES": "203.0.113.7, 10.9.0.1/24"})
    assert config.egress_addresses == ("203.0.113.7/32", "10.9.0.0/24")
    assert Config.from_env(SECRETS).egress_addresses == ()


def test_notices_go_nowhere_unless_configured():
    config = Config.from_env(SECRETS)
    assert config.notifications.channels == ()
    assert config.portal_base_url == config.issuer


def test_notice_channels_and_links_come_from_the_environment():
    config = Config.from_env(
        {
            **SECRETS,
            "GATEHOUSE_NOTIFY_WEBHOOK_URL": "https://hooks.example/T1/B2",
            "GATEHOUSE_SMTP_URL": "smtps://mailer:pw@mail.example:465",
            "GATEHOUSE_MAIL_FROM": "gatehouse@example.com",
            "GATEHOUSE_PUBLIC_URL": "https://gatehouse.example/",
        }
    )
    assert config.notifications.channels == ("webhook", "email")
    assert config.notifications.allow_private_network is False
    assert config.portal_base_url == "https://gatehouse.example"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TOKEN_TTL", "ten", "GATEHOUSE_TOKEN_TTL must be a int, not 'ten'"),
        ("TOKEN_TTL", "5", "GATEHOUSE_TOKEN_TTL must be between 30 and 86400, not 5"),
        ("DEMO", "maybe", "GATEHOUSE_DEMO must be true or false"),
        ("ENCRYPTION_KEYS", "short", "GATEHOUSE_ENCRYPTION_KEYS: key 1 is not a Fernet key"),
        ("UPSTREAM_READ_TIMEOUT", "0", "GATEHOUSE_UPSTREAM_READ_TIMEOUT must be at least"),
        ("UPSTREAM_DEADLINE", "soon", "GATEHOUSE_UPSTREAM_DEADLINE must be a float"),
        ("UPSTREAM_RETRIES", "6", "GATEHOUSE_UPSTREAM_RETRIES must be between 0 and 5, not 6"),
        ("UPSTREAM_BACKOFF", "-1", "GATEHOUSE_UPSTREAM_BACKOFF must be at least 0"),
        ("BREAKER_FAILURES", "many", "GATEHOUSE_BREAKER_FAILURES must be a int"),
        ("BREAKER_OPEN_SECONDS", "0", "GATEHOUSE_BREAKER_OPEN_SECONDS must be at least 0.1"),
        (
            "UPSTREAM_MAX_RESPONSE_BYTES",
            "100",
            "GATEHOUSE_UPSTREAM_MAX_RESPONSE_BYTES must be at least 1024, not 100",
        ),
        ("DATABASE_TIMEOUT", "0", "GATEHOUSE_DATABASE_TIMEOUT must be at least 0.1"),
        ("CHANGE_NOTIFICATIONS", "maybe", "GATEHOUSE_CHANGE_NOTIFICATIONS must be true or false"),
        ("SNAPSHOT_POLL", "often", "GATEHOUSE_SNAPSHOT_POLL must be a float"),
        ("AUDIT_TIMEOUT", "soon", "GATEHOUSE_AUDIT_TIMEOUT must be a float"),
        ("SESSION_LIFETIME", "10", "GATEHOUSE_SESSION_LIFETIME must be between 60 and 2592000"),
        ("SESSION_COOKIE_SECURE", "sometimes", "GATEHOUSE_SESSION_COOKIE_SECURE must be true"),
        ("SIGN_IN_ACCOUNT_LIMIT", "five", "GATEHOUSE_SIGN_IN_ACCOUNT_LIMIT must be a rate"),
        (
            "OIDC_ISSUER",
            "https://idp.example",
            "GATEHOUSE_OIDC_CLIENT_ID, GATEHOUSE_OIDC_CLIENT_SECRET not set",
        ),
        ("NOTIFY_WEBHOOK_URL", "hooks.example", "GATEHOUSE_NOTIFY_WEBHOOK_URL must be a http"),
        ("SMTP_URL", "mail.example:25", "GATEHOUSE_SMTP_URL must be a smtp or smtps URL"),
        ("SMTP_URL", "smtp://mail.example", "GATEHOUSE_MAIL_FROM must be set"),
        ("PUBLIC_URL", "gatehouse.example", "GATEHOUSE_PUBLIC_URL must be a http or https"),
        ("NOTIFY_TIMEOUT", "0", "GATEHOUSE_NOTIFY_TIMEOUT must be at least 0.1"),
        ("METRICS_TOKEN", "short", "GATEHOUSE_METRICS_TOKEN must be at least 16 printable"),
        ("METRICS_TOKEN", "a token with spaces", "GATEHOUSE_METRICS_TOKEN must be at least 16"),
        ("EGRESS_ADDRESSES", "10.0.0.0/8,gateway", "GATEHOUSE_EGRESS_ADDRESSES: 'gateway' is not"),
    ],
)
def test_bad_values_name_the_variable(name, value, message):
    with pytest.raises(ConfigError) as error:
        Config.from_env({**SECRETS, f"GATEHOUSE_{name}": value})
    assert message in str(error.value)


def test_demo_mode_generates_secrets_once(tmp_path):
    environ = {"GATEHOUSE_DEMO": "1", "GATEHOUSE_INSTANCE_PATH": str(tmp_path)}
    first = Config.from_env(environ)
    second = Config.from_env(environ)
    assert first.secret_key == second.secret_key
    assert first.encryption_keys == second.encryption_keys
    stored = json.loads((tmp_path / "demo-secrets.json").read_text())
    assert stored["SECRET_KEY"] == first.secret_key
    assert (tmp_path / "demo-secrets.json").stat().st_mode & 0o077 == 0


def test_several_encryption_keys_are_accepted(tmp_path):
    keys = generate_secrets()["ENCRYPTION_KEYS"] + "," + generate_secrets()["ENCRYPTION_KEYS"]
    config = Config.from_env({**SECRETS, "GATEHOUSE_ENCRYPTION_KEYS": keys})
    assert len(config.encryption_keys) == 2


def test_sign_in_settings_default_to_eight_hour_sessions_and_throttling():
    config = Config.from_env(SECRETS)
    assert config.session_lifetime == 8 * 3600
    assert config.secure_cookies is False  # the default issuer is http on loopback
    assert (config.sign_in_account_limit, config.sign_in_address_limit) == (
        "5 per 15 minutes",
        "20 per 15 minutes",
    )
    assert config.oidc is None


def test_cookies_are_secure_behind_an_https_issuer_unless_told_otherwise():
    https = {**SECRETS, "GATEHOUSE_ISSUER": "https://gatehouse.example.com"}
    assert Config.from_env(https).secure_cookies is True
    told = {**https, "GATEHOUSE_SESSION_COOKIE_SECURE": "false"}
    assert Config.from_env(told).secure_cookies is False


OIDC = {
    **SECRETS,
    "GATEHOUSE_OIDC_ISSUER": "https://idp.example.com/",
    "GATEHOUSE_OIDC_CLIENT_ID": "gatehouse",
    "GATEHOUSE_OIDC_CLIENT_SECRET": "s3cret",
}


def test_single_sign_on_is_read_with_its_group_mappings():
    config = Config.from_env(
        {
            **OIDC,
            "GATEHOUSE_OIDC_ROLES": '{"mkt": "marketer", "it": "admin"}',
            "GATEHOUSE_OIDC_DEPARTMENTS": '{"mkt": "growth"}',
            "GATEHOUSE_OIDC_GROUPS_CLAIM": "roles",
            "GATEHOUSE_OIDC_NAME": "Okta",
        }
    )
    assert config.oidc.issuer == "https://idp.example.com"
    assert config.oidc.roles == {"mkt": "marketer", "it": "admin"}
    assert config.oidc.departments == {"mkt": "growth"}
    assert (config.oidc.groups_claim, config.oidc.name) == ("roles", "Okta")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OIDC_ROLES", "{not json", "GATEHOUSE_OIDC_ROLES is not valid JSON"),
        ("OIDC_ROLES", '["marketer"]', "GATEHOUSE_OIDC_ROLES must be a JSON object of strings"),
        ("OIDC_ROLES", '{"mkt": "boss"}', "group 'mkt' maps to 'boss', not one of marketer"),
        ("OIDC_DEPARTMENTS", '{"mkt": 3}', "GATEHOUSE_OIDC_DEPARTMENTS must be a JSON object"),
    ],
)
def test_bad_single_sign_on_mappings_name_the_variable(name, value, message):
    with pytest.raises(ConfigError) as error:
        Config.from_env({**OIDC, f"GATEHOUSE_{name}": value})
    assert message in str(error.value)


def test_metrics_are_open_unless_a_token_is_set():
    assert Config.from_env(SECRETS).metrics_token is None
    token = "prometheus-scrape-token-0123"
    assert Config.from_env({**SECRETS, "GATEHOUSE_METRICS_TOKEN": token}).metrics_token == token

"""Configuration read from ``GATEHOUSE_*`` environment variables.

Every setting has one place here, with its default and its validation, so that a
typo in a deployment fails at start-up with a message naming the variable rather
than somewhere on the hot path. Secrets have no default outside demo mode; in demo
mode they are generated once and kept under the instance folder.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse as parse_rate_limit

from connectors.registry import SPECS_DIR
from gateway.db import DEFAULT_TIMEOUT
from gateway.identity.roles import Role
from policies.policy import POLICY_PATH

PREFIX = "GATEHOUSE_"
NOTIFY_WEBHOOK_SCHEMES = ("http", "https")
SMTP_SCHEMES = ("smtp", "smtps")
#: A shorter bearer token for ``/metrics`` is refused: it could be guessed.
METRICS_TOKEN_MIN_LENGTH = 16
SECRET_NAMES = ("SECRET_KEY", "ENCRYPTION_KEYS", "SUBJECT_PEPPER")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class OidcSettings:
    """Single sign-on with the company's OpenID Provider (``GATEHOUSE_OIDC_*``)."""

    issuer: str
    client_id: str
    client_secret: str
    #: the claim of the ID token or userinfo that lists the user's groups
    groups_claim: str = "groups"
    #: group -> role; a user in no mapped group is refused
    roles: dict[str, str] = field(default_factory=dict)
    #: group -> department slug
    departments: dict[str, str] = field(default_factory=dict)
    #: shown on the sign-in button: "Sign in with <name>"
    name: str = "your company account"


@dataclass(frozen=True)
class NotificationSettings:
    """Where notices go (``gateway.notifications``); a channel left unset is not used."""

    #: Slack-compatible incoming webhook
    webhook_url: str | None = None
    #: ``smtp://[user:password@]host:port`` (STARTTLS if offered) or ``smtps://...``
    smtp_url: str | None = None
    mail_from: str | None = None
    #: Seconds a webhook or SMTP server has to answer.
    timeout: float = 10.0
    #: Whether the webhook may be on a loopback or private address (a local relay).
    allow_private_network: bool = False

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(
            name for name, url in (("webhook", self.webhook_url), ("email", self.smtp_url)) if url
        )

    @classmethod
    def from_env(cls, env: _Env) -> NotificationSettings:
        webhook_url = env.url("NOTIFY_WEBHOOK_URL", NOTIFY_WEBHOOK_SCHEMES)
        smtp_url = env.url("SMTP_URL", SMTP_SCHEMES)
        mail_from = env.text("MAIL_FROM", "") or None
        if smtp_url and not mail_from:
            raise ConfigError(f"{PREFIX}MAIL_FROM must be set when {PREFIX}SMTP_URL is")
        return cls(
            webhook_url=webhook_url,
            smtp_url=smtp_url,
            mail_from=mail_from,
            timeout=env.number("NOTIFY_TIMEOUT", cls.timeout, low=0.1),
            allow_private_network=env.flag("NOTIFY_ALLOW_PRIVATE_NETWORK", False),
        )


@dataclass(frozen=True)
class Config:
    database_url: str
    secret_key: str
    encryption_keys: tuple[str, ...]
    subject_pepper: str
    instance_path: Path = Path("instance")
    redis_url: str | None = None
    demo: bool = False
    issuer: str = "http://127.0.0.1:8080"
    token_ttl_seconds: int = 600
    upstream_connect_timeout: float = 3.05
    upstream_read_timeout: float = 30.0
    upstream_pool_size: int = 20
    #: How often a failed vendor call is tried again, when it safely can be (``gateway.retries``).
    upstream_retries: int = 2
    #: Seconds of backoff between retries: the first goes at once, the n-th after this
    #: times 2^(n-1), plus up to this.
    upstream_backoff: float = 0.25
    #: Failed calls in a row that open a tool's circuit breaker (0: no breaker).
    breaker_failures: int = 5
    #: Seconds an open breaker refuses calls before it lets one through to probe.
    breaker_open_seconds: float = 30.0
    #: Seconds a vendor has for its whole answer (each read also has the read timeout).
    upstream_deadline: float = 60.0
    #: A vendor answer larger than this is not passed on (502).
    upstream_max_response_bytes: int = 8 * 1024 * 1024
    max_body_bytes: int = 1_048_576
    #: Seconds a client may go without sending any of its request body before it is cut off.
    client_body_timeout: float = 10.0
    snapshot_max_age: float = 1.0
    #: PostgreSQL: whether each worker listens for the changes the database announces
    #: (``LISTEN``), to see them as they commit rather than at the next poll.
    change_notifications: bool = True
    #: Seconds between polls of the versions while changes are being announced (a safety
    #: net); when they are not (SQLite, listener down), ``snapshot_max_age``.
    snapshot_poll: float = 30.0
    log_level: str = "INFO"
    #: Folders of connector specs, later ones overriding earlier ones.
    connector_folders: tuple[Path, ...] = (SPECS_DIR,)
    #: The data-protection policy the engine applies.
    policy_file: Path = POLICY_PATH
    #: Exchange records older than this many days may be pruned (None: kept for ever).
    audit_retention_days: int | None = None
    #: Seconds to wait for the database: to connect, for a pooled connection, for a lock
    #: (SQLite) and, on PostgreSQL, for each statement (see ``limit_statements``).
    database_timeout: float = DEFAULT_TIMEOUT
    #: Whether each statement is bounded by ``database_timeout``: yes when serving
    #: requests; not for CLI commands (migrations, verifying, pruning may take longer).
    limit_statements: bool = True
    #: Seconds a request waits for its exchange record to be committed; 503 after.
    audit_timeout: float = 3.0
    #: Seconds a portal session lasts after sign-in.
    session_lifetime: int = 8 * 3600
    #: Whether the session cookie is sent only over HTTPS; None: when the issuer is https.
    session_cookie_secure: bool | None = None
    #: Failed sign-ins allowed per account, and per client address (``limits`` notation).
    sign_in_account_limit: str = "5 per 15 minutes"
    sign_in_address_limit: str = "20 per 15 minutes"
    #: Proxies (load balancers) in front of the gateway whose ``X-Forwarded-For`` /
    #: ``-Proto`` / ``-Host`` / ``-Port`` are believed: 0, the client's own connection.
    trusted_proxies: int = 0
    oidc: OidcSettings | None = None
    #: The portal's address as people reach it, for links in notices (default the issuer).
    public_url: str = ""
    notifications: NotificationSettings = NotificationSettings()
    #: The bearer token a scrape of ``/metrics`` must send (None: open to whoever reaches it).
    metrics_token: str | None = None
    #: The gateway's own outbound addresses (CIDRs): a call to an approved tool's API
    #: from anywhere else bypasses the gateway (shadow-IT discovery).
    egress_addresses: tuple[str, ...] = ()

    @property
    def portal_base_url(self) -> str:
        return (self.public_url or self.issuer).rstrip("/")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Config:
        env = _Env(os.environ if environ is None else environ)
        instance_path = Path(env.text("INSTANCE_PATH", "instance")).resolve()
        demo = env.flag("DEMO", False)
        secret_values = _demo_secrets(instance_path, env) if demo else env.secrets()
        return cls(
            database_url=env.text("DATABASE_URL", f"sqlite:///{instance_path / 'gatehouse.db'}"),
            secret_key=secret_values["SECRET_KEY"],
            encryption_keys=_parse_encryption_keys(secret_values["ENCRYPTION_KEYS"]),
            subject_pepper=secret_values["SUBJECT_PEPPER"],
            instance_path=instance_path,
            redis_url=env.text("REDIS_URL", "") or None,
            demo=demo,
            issuer=env.text("ISSUER", cls.issuer),
            token_ttl_seconds=env.integer("TOKEN_TTL", cls.token_ttl_seconds, low=30, high=86400),
            upstream_connect_timeout=env.number(
                "UPSTREAM_CONNECT_TIMEOUT", cls.upstream_connect_timeout
            ),
            upstream_read_timeout=env.number("UPSTREAM_READ_TIMEOUT", cls.upstream_read_timeout),
            upstream_pool_size=env.integer("UPSTREAM_POOL_SIZE", cls.upstream_pool_size, low=1),
            upstream_retries=env.integer("UPSTREAM_RETRIES", cls.upstream_retries, high=5),
            upstream_backoff=env.number("UPSTREAM_BACKOFF", cls.upstream_backoff, low=0),
            breaker_failures=env.integer("BREAKER_FAILURES", cls.breaker_failures, high=1000),
            breaker_open_seconds=env.number(
                "BREAKER_OPEN_SECONDS", cls.breaker_open_seconds, low=0.1
            ),
            upstream_deadline=env.number("UPSTREAM_DEADLINE", cls.upstream_deadline),
            upstream_max_response_bytes=env.integer(
                "UPSTREAM_MAX_RESPONSE_BYTES", cls.upstream_max_response_bytes, low=1024
            ),
            max_body_bytes=env.integer("MAX_BODY_BYTES", cls.max_body_bytes, low=1024),
            client_body_timeout=env.number("CLIENT_BODY_TIMEOUT", cls.client_body_timeout),
            snapshot_max_age=env.number("SNAPSHOT_MAX_AGE", cls.snapshot_max_age, low=0),
            change_notifications=env.flag("CHANGE_NOTIFICATIONS", cls.change_notifications),
            snapshot_poll=env.number("SNAPSHOT_POLL", cls.snapshot_poll, low=0),
            log_level=env.text("LOG_LEVEL", cls.log_level).upper(),
            connector_folders=connector_folders_from_env(environ),
            policy_file=env.file("POLICY_FILE", POLICY_PATH),
            audit_retention_days=env.integer("AUDIT_RETENTION_DAYS", 0, low=0) or None,
            database_timeout=env.number("DATABASE_TIMEOUT", cls.database_timeout, low=0.1),
            audit_timeout=env.number("AUDIT_TIMEOUT", cls.audit_timeout, low=0.1),
            session_lifetime=env.integer(
                "SESSION_LIFETIME", cls.session_lifetime, low=60, high=30 * 86400
            ),
            session_cookie_secure=env.optional_flag("SESSION_COOKIE_SECURE"),
            sign_in_account_limit=env.rate_limit(
                "SIGN_IN_ACCOUNT_LIMIT", cls.sign_in_account_limit
            ),
            sign_in_address_limit=env.rate_limit(
                "SIGN_IN_ADDRESS_LIMIT", cls.sign_in_address_limit
            ),
            trusted_proxies=env.integer("TRUSTED_PROXIES", cls.trusted_proxies, low=0, high=5),
            oidc=_oidc_settings(env),
            public_url=env.url("PUBLIC_URL", NOTIFY_WEBHOOK_SCHEMES) or "",
            notifications=NotificationSettings.from_env(env),
            metrics_token=_metrics_token(env),
            egress_addresses=_networks(env, "EGRESS_ADDRESSES"),
        )

    @property
    def secure_cookies(self) -> bool:
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.issuer.startswith("https://")

    @property
    def pepper(self) -> bytes:
        """The key of the subjects' keyed hashes, as ``policies.subjects`` takes it."""
        return self.subject_pepper.encode()

    def with_overrides(self, **changes) -> Config:
        return replace(self, **changes)


def config_of(app) -> Config:
    """The configuration a Flask app was created with."""
    return app.extensions["gatehouse.config"]


def connector_folders_from_env(environ: dict[str, str] | None = None) -> tuple[Path, ...]:
    """The shipped specs, then each folder of ``GATEHOUSE_CONNECTORS_PATH`` (needs no secret)."""
    env = _Env(os.environ if environ is None else environ)
    return (SPECS_DIR, *env.folders("CONNECTORS_PATH"))


def generate_secrets() -> dict[str, str]:
    """Fresh values for every secret, as a deployment would set them."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SUBJECT_PEPPER": secrets.token_urlsafe(32),
    }


def _metrics_token(env: _Env) -> str | None:
    token = env.text("METRICS_TOKEN", "")
    if token and (len(token) < METRICS_TOKEN_MIN_LENGTH or not token.isprintable() or " " in token):
        raise ConfigError(
            f"{PREFIX}METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} printable "
            "characters without spaces"
        )
    return token or None


def _parse_encryption_keys(value: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in value.split(",") if key.strip())
    if not keys:
        raise ConfigError(f"{PREFIX}ENCRYPTION_KEYS holds no key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError as exc:
            raise ConfigError(
                f"{PREFIX}ENCRYPTION_KEYS: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from exc
    return keys


def _oidc_settings(env: _Env) -> OidcSettings | None:
    """Single sign-on, if ``GATEHOUSE_OIDC_ISSUER`` is set (then client id and secret must be)."""
    issuer = env.text("OIDC_ISSUER", "").rstrip("/")
    if not issuer:
        return None
    missing = [
        PREFIX + name for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET") if not env.text(name, "")
    ]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set, but {PREFIX}OIDC_ISSUER is")
    roles = env.string_map("OIDC_ROLES")
    for group, role in roles.items():
        if role not in {member.value for member in Role}:
            raise ConfigError(
                f"{PREFIX}OIDC_ROLES: group {group!r} maps to {role!r}, "
                f"not one of {', '.join(Role)}"
            )
    return OidcSettings(
        issuer=issuer,
        client_id=env.text("OIDC_CLIENT_ID", ""),
        client_secret=env.text("OIDC_CLIENT_SECRET", ""),
        groups_claim=env.text("OIDC_GROUPS_CLAIM", "") or "groups",
        roles=roles,
        departments=env.string_map("OIDC_DEPARTMENTS"),
        name=env.text("OIDC_NAME", "") or OidcSettings.name,
    )


def _networks(env: _Env, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDRs, each checked, kept in their normal form."""
    networks = []
    for part in env.text(name, "").split(","):
        if part.strip():
            try:
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(
                    f"{PREFIX}{name}: {part.strip()!r} is not an address or CIDR (203.0.113.0/28)"
                ) from None
    return tuple(networks)


def _demo_secrets(instance_path: Path, env: _Env) -> dict[str, str]:
    """Secrets for demo mode: those set in the environment, else generated once."""
    path = instance_path / "demo-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if not all(name in stored for name in SECRET_NAMES):
        stored = {**generate_secrets(), **stored}
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return {name: env.text(name, "") or stored[name] for name in SECRET_NAMES}


class _Env:
    """Typed reads of prefixed environment variables with clear errors."""

    def __init__(self, environ):
        self.environ = environ

    def text(self, name: str, default: str) -> str:
        return self.environ.get(PREFIX + name, default)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.environ.get(PREFIX + name)
        if raw is None or raw == "":
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{PREFIX}{name} must be true or false, not {raw!r}")

    def optional_flag(self, name: str) -> bool | None:
        """True or false if set, None if not."""
        if self.environ.get(PREFIX + name, "") == "":
            return None
        return self.flag(name, False)

    def rate_limit(self, name: str, default: str) -> str:
        raw = self.environ.get(PREFIX + name) or default
        try:
            parse_rate_limit(raw)
        except ValueError as exc:
            raise ConfigError(
                f"{PREFIX}{name} must be a rate such as '5 per 15 minutes', not {raw!r}"
            ) from exc
        return raw

    def string_map(self, name: str) -> dict[str, str]:
        """A JSON object of strings to strings (empty if unset)."""
        raw = self.environ.get(PREFIX + name, "")
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name} is not valid JSON: {exc}") from exc
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and isinstance(item, str) for key, item in value.items()
        ):
            raise ConfigError(f'{PREFIX}{name} must be a JSON object of strings: {{"group": "…"}}')
        return value

    def integer(self, name: str, default: int, low: int = 0, high: int | None = None) -> int:
        return int(self._bounded(name, default, int, low, high))

    def number(self, name: str, default: float, low: float = 0.001) -> float:
        return float(self._bounded(name, default, float, low, None))

    def _bounded(self, name, default, kind, low, high):
        raw = self.environ.get(PREFIX + name)
        if raw is None or raw == "":
            return default
        try:
            value = kind(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name} must be a {kind.__name__}, not {raw!r}") from exc
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"{PREFIX}{name} must be {bounds}, not {raw}")
        return value

    def url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        """An absolute URL with one of ``schemes`` and a host, or None if unset."""
        raw = self.environ.get(PREFIX + name, "").strip()
        if not raw:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not parts.hostname:
            raise ConfigError(
                f"{PREFIX}{name} must be a {' or '.join(schemes)} URL with a host, not {raw!r}"
            )
        return raw

    def file(self, name: str, default: Path) -> Path:
        path = Path(self.environ.get(PREFIX + name) or default)
        if not path.is_file():
            raise ConfigError(f"{PREFIX}{name}: no file {path}")
        return path

    def folders(self, name: str) -> list[Path]:
        raw = self.environ.get(PREFIX + name, "")
        folders = [Path(part) for part in raw.split(os.pathsep) if part]
        missing = [str(folder) for folder in folders if not folder.is_dir()]
        if missing:
            raise ConfigError(f"{PREFIX}{name}: not a folder: {', '.join(missing)}")
        return folders

    def secrets(self) -> dict[str, str]:
        missing = [PREFIX + name for name in SECRET_NAMES if not self.environ.get(PREFIX + name)]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} not set: secrets have no default outside demo mode "
                f"(set {PREFIX}DEMO=1 for a local demo, or see README)"
            )
        return {name: self.environ[PREFIX + name] for name in SECRET_NAMES}

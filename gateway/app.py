"""The app factory: a Flask app assembled from small ``init_app`` steps."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import (
    api,
    errors,
    health,
    log_redaction,
    metrics,
    notifications,
    portal,
    proxy,
    request_id,
    snapshots,
    vault,
)
from gateway.config import Config
from gateway.db import db
from gateway.identity import oidc_client, sessions, throttle
from gateway.oauth import server as oauth_server


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logging.basicConfig(level=config.log_level)
    log_redaction.init_app(config)
    app = Flask(__name__, instance_path=str(config.instance_path))
    app.config.update(SECRET_KEY=config.secret_key, MAX_CONTENT_LENGTH=config.max_body_bytes)
    app.extensions["gatehouse.config"] = config
    if config.trusted_proxies:  # the client's address and scheme, as the load balancer saw them
        hops = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    request_id.init_app(app)
    errors.init_app(app)
    db.init_app(app)
    notifications.init_app(app)
    vault.init_app(app)
    snapshots.init_app(app)
    oauth_server.init_app(app)
    proxy.init_app(app)
    sessions.init_app(app)
    throttle.init_app(app)
    oidc_client.init_app(app)
    api.init_app(app)
    portal.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    return app

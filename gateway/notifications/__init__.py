"""Telling people what happened: new tool requests, reviewers' questions, decisions.

Notices are written to an outbox in the same transaction as the change that caused
them (``outbox``), and delivered after commit by a background thread to the configured
webhook (Slack-compatible JSON) and SMTP server (``delivery``, ``channels``); a delivery
that fails is tried again, so a change is never lost for want of a notice, nor a notice
sent for a change that was rolled back.
"""

from __future__ import annotations

from flask import Flask

from gateway.config import config_of
from gateway.db import db
from gateway.notifications import outbox
from gateway.notifications.delivery import Deliverer

EXTENSION = "gatehouse.notifications"


def init_app(app: Flask) -> None:
    config = config_of(app)
    sessions = db.of(app).sessions
    deliverer = Deliverer(sessions, config.notifications)
    app.extensions[EXTENSION] = deliverer
    outbox.listen(sessions, config, deliverer.wake)


def deliverer_of(app: Flask) -> Deliverer:
    return app.extensions[EXTENSION]

"""Sandbox vendors: local fakes of vendor APIs for the demo and the tests.

Each fake checks authentication and request bodies the way the real API does and
answers in its shapes. All fakes share one server, each under its vendor's prefix
(``/mailchimp/3.0/...``), and every request they receive is kept for inspection at
``/_sandbox/requests``.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from connectors.sandbox import mailchimp
from connectors.sandbox.recorder import Recorder

VENDORS = {"mailchimp": mailchimp}


def create_sandbox_app(keys: Mapping[str, str]) -> Flask:
    """A server hosting every fake; ``keys`` maps vendor to the credential it accepts."""
    app = Flask(__name__)
    recorder = Recorder()
    recorder.init_app(app)
    for vendor, module in VENDORS.items():
        app.register_blueprint(module.create_blueprint(keys[vendor]), url_prefix=f"/{vendor}")
    return app

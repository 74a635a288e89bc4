"""Sandbox vendors: local fakes of vendor APIs for the demo and the tests.

Each fake checks authentication and request bodies the way the real API does and
answers in its shapes. All fakes share one server, each under its vendor's prefix
(``/mailchimp/3.0/...``), and every request they receive is kept for inspection at
``/_sandbox/requests``; failures are armed at ``/_sandbox/faults``. A fake is a
module in ``connectors/sandbox/vendors``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from types import ModuleType

from flask import Flask

from connectors.sandbox import vendors
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.recorder import Recorder


def vendor_modules() -> dict[str, ModuleType]:
    modules = (
        importlib.import_module(f"{vendors.__name__}.{info.name}")
        for info in pkgutil.iter_modules(vendors.__path__)
    )
    return {module.VENDOR: module for module in modules}


def sandbox_environment() -> dict[str, str]:
    """The sandbox credentials as ``SANDBOX_<VENDOR>_<FIELD>`` variables, for catalog files."""
    return {
        f"SANDBOX_{vendor}_{field}".upper().replace("-", "_"): value
        for vendor, module in vendor_modules().items()
        for field, value in module.CREDENTIALS.items()
    }


def create_sandbox_app(credentials: Mapping[str, Mapping[str, str]] | None = None) -> Flask:
    """A server hosting every fake; ``credentials`` may replace a vendor's defaults."""
    app = Flask(__name__)
    Recorder().init_app(app)
    FaultInjector().init_app(app)  # after the recorder: a failed request was received
    for vendor, module in vendor_modules().items():
        accepted = (credentials or {}).get(vendor, module.CREDENTIALS)
        app.register_blueprint(module.create_blueprint(accepted), url_prefix=f"/{vendor}")
    return app

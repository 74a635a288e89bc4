"""The proxy: ``/proxy/<tool>/<path>``, the governed path from an app to a tool."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import PathConverter

from gateway.proxy.view import METHODS, ProxyServices, proxy


class AnyPathConverter(PathConverter):
    """Like ``path`` but also matches a leading slash, so the proxy sees (and refuses)
    ``/proxy/tool//other-host`` instead of the router answering 404."""

    regex = ".*"
    part_isolating = False


def init_app(app: Flask) -> None:
    ProxyServices.attach(app)
    app.url_map.converters["anypath"] = AnyPathConverter
    for rule in ("/proxy/<tool_slug>", "/proxy/<tool_slug>/<anypath:upstream_path>"):
        app.add_url_rule(
            rule,
            "proxy",
            proxy,
            methods=METHODS,
            merge_slashes=False,  # "//host" must reach the path check, not a redirect
            strict_slashes=False,
        )

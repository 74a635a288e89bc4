"""The web portal at ``/portal``: server-rendered pages for marketing, IT and auditors.

Pages are Jinja templates over the same services as the JSON API; forms post plainly
and htmx (vendored, no build step) only enhances them. Each module of this package
adds its pages to :data:`bp` and its entries to the navigation with :func:`nav_item`.
"""

from __future__ import annotations

from flask import Flask, redirect, render_template, url_for

from gateway.portal import (  # noqa: F401 (each adds its pages)
    access,
    apps,
    audit_chain,
    audit_reports,
    audit_section,
    audit_trail,
    catalog,
    exchanges,
    grants_admin,
    requests,
    reviews,
    set_password,
    shadow_it,
    sign_in,
    single_sign_on,
    tools_admin,
    usage,
    users,
)
from gateway.portal.blueprint import bp


@bp.get("/")
@access.page("catalog:read")
def home():
    return render_template("portal/home.html")


def init_app(app: Flask) -> None:
    access.init_app(app)
    app.register_blueprint(bp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("portal.home")))

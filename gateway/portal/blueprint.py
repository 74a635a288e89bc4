"""The portal's blueprint, shared by the modules that add pages to it."""

from flask import Blueprint

bp = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
)

"""The xapi2 JSON API (``../shared/spec/xapi2.md``): one blueprint, its own errors."""

from flask import Blueprint

bp = Blueprint("xapi2", __name__, url_prefix="/xapi2")

from . import views  # noqa: E402,F401  (routes register on bp)

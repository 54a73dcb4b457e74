"""The account & billing page and its JSON twin, read straight from the mirror."""

from flask import Blueprint

bp = Blueprint("account", __name__)

from billing_app.account import views  # noqa: E402,F401  (routes register on import)

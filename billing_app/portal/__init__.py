"""The Customer Portal: the "Manage subscription" button, its JSON API, and `flask portal`."""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from billing_app.portal import views  # noqa: E402,F401  (routes register on import)

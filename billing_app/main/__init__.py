"""The home page and the health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from billing_app.main import views  # noqa: E402,F401  (routes register on import)

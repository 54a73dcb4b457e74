"""The plans page: what can be bought, from the mirror's active prices."""

from flask import Blueprint

bp = Blueprint("plans", __name__)

from billing_app.plans import views  # noqa: E402,F401  (routes register on import)

"""Sign-up, sign-in and sign-out."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from billing_app.auth import views  # noqa: E402,F401  (routes register on import)

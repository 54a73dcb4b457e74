"""Checkout: how a signed-in user on the free plan becomes a paying customer."""

from flask import Blueprint

bp = Blueprint("checkout", __name__)

from billing_app.checkout import views  # noqa: E402,F401  (routes register on import)

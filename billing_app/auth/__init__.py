"""Sign-up, sign-in and sign-out."""

from flask import Blueprint

bp = Blueprint("auth", __name__)


def _check_csrf() -> None:
    from billing_app.blueprint import check_csrf
    check_csrf()


bp.before_request(_check_csrf)

from billing_app.auth import views  # noqa: E402,F401  (routes register on import)

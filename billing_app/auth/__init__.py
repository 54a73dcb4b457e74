"""Built-in accounts: sign-up, sign-in and sign-out (views.py); confirming the address, resetting
and changing the password or address (recovery.py)."""

from flask import Blueprint

bp = Blueprint("auth", __name__)


def _check_csrf() -> None:
    from billing_app.blueprint import require_csrf_token
    require_csrf_token()  # sign-in forms too (login CSRF): no user is signed in yet


bp.before_request(_check_csrf)

from billing_app.auth import recovery, views  # noqa: E402,F401  (routes register on import)

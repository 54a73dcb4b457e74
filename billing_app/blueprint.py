"""The blueprint every billing feature hangs from (account, plans, checkout, portal).

Registered once per app under URL_PREFIX, it carries what those features share
and nothing of the host's: the CSRF check, the error answers and the names the
billing templates use.  Templates live in ``templates/billing/``; a host
overrides one by putting its own file at the same path in its templates folder.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms import ValidationError

from billing_app import errors

billing_bp = Blueprint("billing", __name__, template_folder="templates", static_folder="static",
                       static_url_path="/static/billing")

CSRF_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")


def check_csrf() -> None:
    """Forms and cookie-signed calls carry the page's CSRF token; bearer-token calls need none.

    A bearer token is not sent by the browser on its own, so a forged
    cross-site request cannot carry one; a session or a token cookie is.
    """
    if request.method not in CSRF_METHODS:
        return
    from billing_app.billing import state
    if state().auth_mode == "jwt" and request.headers.get("Authorization"):
        return  # the token alone decides: a refused one leaves no user, and the view answers 401
    token = request.form.get("csrf_token") or next(
        (request.headers[h] for h in CSRF_HEADERS if request.headers.get(h)), None)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from None


def template_context() -> dict[str, Any]:
    """Names the billing templates use: the user, the links of the site around them, the settings."""
    from billing_app.billing import settings, state
    from billing_app.identity import current_billing_user
    return {"billing_user": current_billing_user(), "billing_links": site_links(state()),
            "billing_config": settings(), "csrf_token": generate_csrf}


def site_links(billing: Any) -> dict[str, str | None]:
    """Where the layout's links go, which depends on who signs people in."""
    mode, login_url = billing.auth_mode, billing.settings["LOGIN_URL"]
    sign_in = None
    if mode == "accounts":
        sign_in = url_for("auth.login")
    elif mode == "jwt" and login_url:
        sign_in = login_url.replace("{next}", "")
    elif mode == "host":
        from flask import current_app
        view = getattr(current_app.login_manager, "login_view", None)
        sign_in = url_for(view) if isinstance(view, str) else None
    return {
        "home": url_for("main.home") if billing.standalone else "/",
        "sign_in": sign_in,
        "sign_up": url_for("auth.signup") if mode == "accounts" else None,
        "sign_out": url_for("auth.logout") if mode == "accounts" else None,
        "terms": url_for("main.terms") if billing.standalone else None,
        "privacy": url_for("main.privacy") if billing.standalone else None,
    }


def _register_features() -> None:
    from billing_app.account import bp as account_bp
    from billing_app.checkout import bp as checkout_bp
    from billing_app.plans import bp as plans_bp
    from billing_app.portal import bp as portal_bp

    for feature in (account_bp, plans_bp, checkout_bp, portal_bp):
        billing_bp.register_blueprint(feature)


billing_bp.before_request(check_csrf)
billing_bp.context_processor(template_context)
errors.register(billing_bp)
_register_features()

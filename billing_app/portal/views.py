from flask import current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required

from billing_app.errors import BillingError
from billing_app.extensions import limiter
from billing_app.portal import bp
from billing_app.portal.service import create_portal_session


def _per_user() -> str:
    return f"user:{current_user.get_id()}"


def _portal_rate_limit() -> str:
    return current_app.config["PORTAL_RATE_LIMIT"]


# One budget for the button and the API together, counted per signed-in user.
portal_limit = limiter.shared_limit(_portal_rate_limit, scope="portal_session", key_func=_per_user)


def _portal_fields(data) -> dict:
    return {"flow": data.get("flow") or None, "subscription_id": data.get("subscription") or None,
            "price_id": data.get("price") or None, "item_id": data.get("item") or None}


@bp.route("/billing/portal", methods=["POST"])
@login_required
@portal_limit
def portal():
    """The "Manage subscription" button: 303 to a fresh Customer Portal session."""
    try:
        url = create_portal_session(current_user, **_portal_fields(request.form))
    except BillingError as exc:
        if exc.code != "no_billing_account":
            raise
        flash(exc.message, "error")
        return redirect(url_for("account.account"), 303)
    response = redirect(url, 303)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/api/customer_portal", methods=["POST"])
@login_required
@portal_limit
def customer_portal_api():
    """For fetch clients (session cookie plus X-CSRFToken header): {"url": ...}."""
    data = request.get_json(silent=True) if request.is_json else request.form
    response = jsonify(url=create_portal_session(current_user, **_portal_fields(data or {})))
    response.headers["Cache-Control"] = "no-store"
    return response

from flask import flash, jsonify, redirect, request, url_for

from billing_app.billing import settings
from billing_app.blueprint import request_data, text_field, to_stripe
from billing_app.db import database, waits_on_stripe
from billing_app.errors import BillingError
from billing_app.rate_limits import per_user_limit
from billing_app.identity import current_billing_user, sign_in_required
from billing_app.portal import bp
from billing_app.hosted_pages.portal import create_portal_session
from billing_app.stripe_client import stripe_api


def portal_session_for(data) -> str:
    """A portal session for the signed-in user, for the flow the form or JSON body names."""
    return create_portal_session(
        database(), stripe_api(), settings(), current_billing_user(),
        flow=text_field(data, "flow"), subscription_id=text_field(data, "subscription"),
        price_id=text_field(data, "price"), item_id=text_field(data, "item"))


@bp.route("/portal", methods=["POST"])
@sign_in_required
@per_user_limit("PORTAL_RATE_LIMIT", "portal_session")
@waits_on_stripe
def portal():
    """The "Manage subscription" button: 303 to a fresh Customer Portal session."""
    try:
        url = portal_session_for(request.form)
    except BillingError as exc:
        if exc.code != "no_billing_account":
            raise
        flash(exc.message, "error")
        return redirect(url_for("billing.account.account"), 303)
    return to_stripe(url)


@bp.route("/api/customer_portal", methods=["POST"])
@sign_in_required
@per_user_limit("PORTAL_RATE_LIMIT", "portal_session")
@waits_on_stripe
def customer_portal_api():
    """For fetch clients: {"url": ...}. A bearer token needs nothing else; a session or token
    cookie also needs the page's CSRF token (X-CSRFToken header)."""
    data = request_data(json_allowed=True)
    return jsonify(url=portal_session_for(data))

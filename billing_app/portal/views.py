from flask import flash, jsonify, redirect, request, url_for

from billing_app.billing import settings
from billing_app.blueprint import request_data, text_field, to_stripe
from billing_app.db import database, waits_on_stripe
from billing_app.errors import BillingError
from billing_app.rate_limits import per_user_limit
from billing_app.identity import (NOT_READ, current_billing_user, read_with_sign_in, row_read_with_sign_in,
                                  sign_in_required)
from billing_app.mirror import customer_from
from billing_app.mirror.customers import customer_of_user
from billing_app.portal import bp
from billing_app.hosted_pages.portal import create_portal_session
from billing_app.stripe_client import stripe_api


def customer_of_user_for(user_id: str) -> tuple[str, dict]:
    return customer_of_user(user_id, user_key=settings()["STRIPE_CUSTOMER_USER_KEY"])


def portal_session_for(data) -> str:
    """A portal session for the signed-in user, for the flow the form or JSON body names."""
    user = current_billing_user()
    row = row_read_with_sign_in(customer_of_user_for, user)  # built-in accounts: read with the user's row
    return create_portal_session(
        database(), stripe_api(), settings(), user,
        flow=text_field(data, "flow"), subscription_id=text_field(data, "subscription"),
        price_id=text_field(data, "price"), item_id=text_field(data, "item"),
        customer=row if row is NOT_READ else customer_from(row, user.id))


@bp.route("/portal", methods=["POST"])
@read_with_sign_in(customer_of_user_for)
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
@read_with_sign_in(customer_of_user_for)
@sign_in_required
@per_user_limit("PORTAL_RATE_LIMIT", "portal_session")
@waits_on_stripe
def customer_portal_api():
    """For fetch clients: {"url": ...}. A bearer token needs nothing else; a session or token
    cookie also needs the page's CSRF token (X-CSRFToken header)."""
    data = request_data(json_allowed=True)
    return jsonify(url=portal_session_for(data))

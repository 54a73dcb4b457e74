from billing_app.billing import settings
from billing_app.blueprint import request_data, text_field, to_stripe
from billing_app.checkout import bp
from billing_app.hosted_pages.checkout import start_checkout
from billing_app.db import database, waits_on_stripe
from billing_app.identity import current_billing_user, sign_in_required
from billing_app.rate_limits import per_user_limit
from billing_app.stripe_client import stripe_api


@bp.route("/checkout", methods=["POST"])
@sign_in_required
@per_user_limit("PORTAL_RATE_LIMIT", "portal_session")  # the portal's budget: checkout can open it too
@waits_on_stripe
def checkout():
    """A plan's "Subscribe" button: 303 to Stripe Checkout (or to the portal's change-plan flow)."""
    price_id = text_field(request_data(), "price")
    return to_stripe(start_checkout(database(), stripe_api(), settings(), current_billing_user(), price_id))

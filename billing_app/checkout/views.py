from billing_app.blueprint import request_data, text_field, to_stripe

from billing_app.checkout import bp
from billing_app.checkout.service import start_checkout
from billing_app.identity import current_billing_user, sign_in_required
from billing_app.rate_limits import per_user_limit


@bp.route("/checkout", methods=["POST"])
@sign_in_required
@per_user_limit("PORTAL_RATE_LIMIT", "portal_session")  # the portal's budget: checkout can open it too
def checkout():
    """A plan's "Subscribe" button: 303 to Stripe Checkout (or to the portal's change-plan flow)."""
    return to_stripe(start_checkout(current_billing_user(), text_field(request_data(), "price")))

from flask import redirect, request
from flask_login import current_user, login_required

from billing_app.checkout import bp
from billing_app.checkout.service import start_checkout


@bp.route("/billing/checkout", methods=["POST"])
@login_required
def checkout():
    """A plan's "Subscribe" button: 303 to Stripe Checkout (or to the portal's change-plan flow)."""
    response = redirect(start_checkout(current_user, request.form.get("price")), 303)
    response.headers["Cache-Control"] = "no-store"
    return response

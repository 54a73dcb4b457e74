from flask import render_template, request

from billing_app.billing import settings
from billing_app.db import get_db
from billing_app.identity import current_billing_user
from billing_app.mirror.catalogue import active_recurring_prices
from billing_app.mirror.customers import customer_for_user
from billing_app.mirror.subscription_actions import PlanChoice, plan_choice
from billing_app.mirror.subscriptions import live_subscription_items
from billing_app.plans import bp
from billing_app.plans.offer import build_offer


@bp.route("/pricing")
def pricing():
    """Every plan and add-on on sale (plans/offer.py), with what its button does for this visitor."""
    user = current_billing_user()  # before the connection: a token check may have to fetch keys
    conn = get_db()
    choice, rows = None, []
    if user is not None:
        customer = customer_for_user(conn, user.id, user_key=settings()["STRIPE_CUSTOMER_USER_KEY"])
        rows = live_subscription_items(conn, customer["id"]) if customer is not None else []
        choice = plan_choice(rows) if rows else PlanChoice("subscribe")
    offer = build_offer(active_recurring_prices(conn), choice=choice, subscription_rows=rows,
                        interval=request.args.get("interval"), currency=request.args.get("currency"))
    return render_template("billing/pricing.html", offer=offer)

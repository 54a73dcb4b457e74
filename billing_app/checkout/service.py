"""Starting a subscription with Stripe Checkout, without a webhook handler.

The Stripe customer is the one in the mirror.  A user without one gets a new
customer (email and metadata[user_id]) whose id is remembered in
billing_app.users at once, under a row lock, so that a second click during
the sync lag reuses it instead of creating a duplicate.
"""

from __future__ import annotations

from flask import current_app

from billing_app.account import RETURN_PARAM
from billing_app.mirror.customers import customer_for_user
from billing_app.mirror.subscriptions import live_subscription_items
from billing_app.db import get_db, release_db
from billing_app.errors import BillingError
from billing_app.mirror.catalogue import is_active_recurring_price
from billing_app.portal.service import create_portal_session
from billing_app.stripe_client import call_stripe, new_idempotency_key, stripe_client


def create_customer(conn, client, user) -> str:
    """A new Stripe customer for a user who has none, remembered at once; returns its id."""
    with conn.transaction():
        # Serialises concurrent clicks of one user: the second waits here, then
        # finds the id the first remembered.
        conn.execute("SELECT 1 FROM billing_app.users WHERE id = %s FOR UPDATE", (user.id,))
        customer = customer_for_user(conn, user.id)
        if customer is not None:
            return customer["id"]
        params = {"email": user.email, "metadata": {"user_id": str(user.id)}}
        # A fixed key per user: a retry after a crash between Stripe's answer and
        # our commit gets the same customer back (Stripe keeps keys for 24 hours).
        options = {"idempotency_key": f"billing_app-customer-for-user-{user.id}"}
        created = call_stripe(lambda: client.v1.customers.create(params=params, options=options))
        conn.execute("UPDATE billing_app.users SET stripe_customer_id = %s WHERE id = %s", (created.id, user.id))
    return created.id


def start_checkout(user, price_id: str | None) -> str:
    """The URL to send ``user`` to for subscribing to ``price_id``.

    A user who already has a live subscription is sent to the portal's
    change-plan flow instead of a second checkout.  Raises BillingError (400
    for a price that is not an active recurring price in the mirror, before
    any Stripe call; Stripe's failures as in the portal).
    """
    conn = get_db()
    if not price_id or not is_active_recurring_price(conn, price_id):
        raise BillingError(400, "price_not_available", "That plan is not available. Choose one on the plans page.")
    client = stripe_client()
    customer = customer_for_user(conn, user.id)
    if customer is not None and customer["has_live_subscription"]:
        newest = live_subscription_items(conn, customer["id"])[0]["subscription_id"]
        return create_portal_session(user, flow="subscription_update", subscription_id=newest)
    customer_id = customer["id"] if customer is not None else create_customer(conn, client, user)
    site = current_app.config["SITE_URL"]
    params = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(user.id),
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": f"{site}/account?{RETURN_PARAM}=checkout",
        "cancel_url": f"{site}/pricing",
    }
    options = {"idempotency_key": new_idempotency_key()}
    release_db()
    session = call_stripe(lambda: client.v1.checkout.sessions.create(params=params, options=options))
    return session.url

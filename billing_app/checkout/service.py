"""Starting a subscription with Stripe Checkout, without a webhook handler.

The Stripe customer is the one in the mirror.  A user without one gets a new
customer (email and the user id in its metadata) made with an idempotency key
fixed per user, so that a second click, a retry or a crash between Stripe's
answer and ours gets the same customer back instead of a duplicate; its id is
remembered (billing_app.remembered_customers) until the mirror has it.  No
connection is held while Stripe is asked.
"""

from __future__ import annotations

import hashlib

from billing_app.account import RETURN_PARAM
from billing_app.billing import absolute_url, settings
from billing_app.db import get_db, release_db
from billing_app.errors import BillingError
from billing_app.identity import BillingUser
from billing_app.mirror.catalogue import is_active_recurring_price
from billing_app.mirror.customers import customer_for_user, remember_customer
from billing_app.mirror.subscriptions import live_subscription_items
from billing_app.portal.service import create_portal_session
from billing_app.stripe_client import call_stripe, new_idempotency_key, redirect_url, stripe_client

CLIENT_REFERENCE_MAX_LENGTH = 200  # Stripe's limit for checkout.sessions client_reference_id


def customer_creation_key(user: BillingUser) -> str:
    """The idempotency key of the customer made for ``user`` (Stripe keeps keys for 24 hours).

    The email is part of it: Stripe refuses a key reused with other parameters.
    """
    digest = hashlib.sha256(f"{user.id}\0{user.email or ''}".encode()).hexdigest()[:48]
    return f"billing_app-customer-{digest}"


def create_customer(client, user: BillingUser, user_key: str) -> str:
    """A new Stripe customer for ``user``, linked by its metadata; returns its id."""
    params: dict = {"metadata": {user_key: user.id}}
    if user.email:
        params["email"] = user.email
    options = {"idempotency_key": customer_creation_key(user)}
    return call_stripe(lambda: client.v1.customers.create(params=params, options=options)).id


def start_checkout(user: BillingUser, price_id: str | None) -> str:
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
    user_key = settings()["STRIPE_CUSTOMER_USER_KEY"]
    customer = customer_for_user(conn, user.id, user_key=user_key)
    if customer is not None and customer["has_live_subscription"]:
        newest = live_subscription_items(conn, customer["id"])[0]["subscription_id"]
        return create_portal_session(user, flow="subscription_update", subscription_id=newest)
    if customer is not None:
        customer_id = customer["id"]
    else:
        release_db()
        created = create_customer(client, user, user_key)
        customer_id = remember_customer(get_db(), user.id, created)
    params = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": absolute_url("billing.account.account", **{RETURN_PARAM: "checkout"}),
        "cancel_url": absolute_url("billing.plans.pricing"),
    }
    if len(user.id) <= CLIENT_REFERENCE_MAX_LENGTH:
        params["client_reference_id"] = user.id
    options = {"idempotency_key": new_idempotency_key()}
    release_db()
    session = call_stripe(lambda: client.v1.checkout.sessions.create(params=params, options=options))
    return redirect_url(session)

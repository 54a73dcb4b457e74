"""Starting a subscription with Stripe Checkout, without a webhook handler.

The Stripe customer is the one in the mirror.  A user without one gets a new
customer (email and the user id in its metadata) made with an idempotency key
fixed per user, so that a second click, a retry or a crash between Stripe's
answer and ours gets the same customer back instead of a duplicate; its id is
remembered (billing_app.remembered_customers) until the mirror has it.  The
service takes the database, not a connection: it holds one only around its
queries, never while Stripe answers.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

from billing_app.hosted_pages import RETURN_PARAM
from billing_app.billing import absolute_url
from billing_app.db import Database
from billing_app.errors import BillingError
from billing_app.identity import BillingUser
from billing_app.mirror.catalogue import is_addon, subscribable_price
from billing_app.mirror.customers import customer_for_user, remember_customer
from billing_app.mirror.subscription_actions import plan_choice, prices_held
from billing_app.mirror.subscriptions import live_subscription_items
from billing_app.hosted_pages.portal import already_on_this_plan, create_portal_session, plan_change_on_request
from billing_app.stripe_client import StripeApi, new_idempotency_key, redirect_url

CLIENT_REFERENCE_MAX_LENGTH = 200  # Stripe's limit for checkout.sessions client_reference_id


def customer_creation_key(user: BillingUser) -> str:
    """The idempotency key of the customer made for ``user`` (Stripe keeps keys for 24 hours).

    The email is part of it: Stripe refuses a key reused with other parameters.
    """
    digest = hashlib.sha256(f"{user.id}\0{user.email or ''}".encode()).hexdigest()[:48]
    return f"billing_app-customer-{digest}"


def create_customer(stripe: StripeApi, user: BillingUser, user_key: str) -> str:
    """A new Stripe customer for ``user``, linked by its metadata; returns its id."""
    params: dict = {"metadata": {user_key: user.id}}
    if user.email:
        params["email"] = user.email
    options = {"idempotency_key": customer_creation_key(user)}
    return stripe.call(lambda client: client.v1.customers.create(params=params, options=options)).id


def start_checkout(db: Database, stripe: StripeApi, config: Mapping[str, Any], user: BillingUser,
                   price_id: str | None) -> str:
    """The URL to send ``user`` to for subscribing to ``price_id``.

    What choosing a plan does is mirror.subscription_actions.plan_choice's: a
    customer whose subscription needs them first (an invoice to pay, a
    subscription to resume) gets a 409 saying what to do; a price they are on
    already, in any of their subscriptions, a 409 too (prices_held); a customer
    with a subscription whose plan can change goes to the portal's confirmation
    of that exact change; one whose subscription has several items (the portal
    cannot change them) a 409 saying to ask; anyone else (no subscription, or
    all of them over) a new one through Checkout, for a plan (an add-on comes
    with a plan).  Raises BillingError (400 for a price that is not an active
    recurring price in the mirror, before any Stripe call; Stripe's failures as
    in the portal).
    """
    if not user.email_verified:  # its address goes to Stripe, which mails receipts there
        raise BillingError(403, "email_not_verified",
                           f"Confirm your email address first: open the link we mailed to {user.email}.")
    user_key = config["STRIPE_CUSTOMER_USER_KEY"]
    with db.connection() as conn:
        price = subscribable_price(conn, price_id) if price_id else None
        if price is None:
            raise BillingError(400, "price_not_available", "That plan is not available. Choose one on the plans page.")
        stripe.require_key()
        customer = customer_for_user(conn, user.id, user_key=user_key)
        rows = live_subscription_items(conn, customer["id"]) if customer is not None else []
        choice = plan_choice(rows) if customer is not None else None
    if choice is not None and choice.kind == "settle":
        raise BillingError(409, "subscription_needs_attention",
                           "Your current subscription needs you first (a payment to finish, or a subscription "
                           "to resume): see your account page.")
    if price["id"] in prices_held(rows):  # in any of their subscriptions, as the pricing page shows
        raise already_on_this_plan()
    if choice is not None and choice.kind == "change":  # the portal's flow checks the item and the price
        return create_portal_session(db, stripe, config, user, flow="subscription_update_confirm",
                                     subscription_id=choice.subscription_id, price_id=price["id"],
                                     customer=customer)
    if choice is not None and choice.kind == "ask":
        raise plan_change_on_request()
    if is_addon(price["product_metadata"]):
        raise BillingError(400, "addon_needs_plan", "That is an add-on: choose a plan first, then ask us to add it.")
    if customer is not None:
        customer_id = customer["id"]
    else:
        created = create_customer(stripe, user, user_key)
        with db.connection() as conn:
            customer_id = remember_customer(conn, user.id, created)
    params = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": absolute_url(config, "billing.account.account", **{RETURN_PARAM: "checkout"}),
        "cancel_url": absolute_url(config, "billing.plans.pricing"),
    }
    if len(user.id) <= CLIENT_REFERENCE_MAX_LENGTH:
        params["client_reference_id"] = user.id
    options = {"idempotency_key": new_idempotency_key()}
    session = stripe.call(lambda client: client.v1.checkout.sessions.create(params=params, options=options))
    return redirect_url(session)

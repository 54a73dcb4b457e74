"""Creating a Customer Portal session for the signed-in user.

The customer is resolved from the mirror on the server (as the account page
does), never taken from the request; a fresh session is created on every call.
The service takes the database, not a connection: it holds one only around its
queries, never while Stripe answers.
"""

from __future__ import annotations

from typing import Any, Mapping

from billing_app.billing import absolute_url
from billing_app.db import Database
from billing_app.errors import BillingError, contact_email, shown
from billing_app.hosted_pages import RETURN_PARAM
from billing_app.identity import NOT_READ, BillingUser
from billing_app.mirror.catalogue import is_addon, subscribable_price
from billing_app.mirror.customers import customer_for_user
from billing_app.mirror.subscription_actions import in_good_standing, subscription_actions
from billing_app.mirror.subscriptions import live_subscription_of_customer
from billing_app.stripe_client import StripeApi, new_idempotency_key, redirect_url

FLOWS = ("payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm")
FLOWS_NEEDING_SUBSCRIPTION = FLOWS[1:]


def return_url(config: Mapping[str, Any]) -> str:
    """/account with the back-from-portal marker, built from SITE_URL (never the Host header)."""
    return absolute_url(config, "billing.account.account", **{RETURN_PARAM: "portal"})


def no_billing_account() -> BillingError:
    return BillingError(404, "no_billing_account",
                        "You do not have a billing account yet. Choose a plan to get started.")


def _flow_data(conn, config: Mapping[str, Any], customer_id: str, flow: str, subscription_id: str | None,
               price_id: str | None, item_id: str | None) -> dict:
    if flow in FLOWS_NEEDING_SUBSCRIPTION and not subscription_id:
        raise BillingError(400, "subscription_required", f"The {flow} flow needs a subscription id.")
    items = []
    if subscription_id:
        items = live_subscription_of_customer(conn, customer_id, subscription_id)
        if not items:
            raise BillingError(404, "subscription_not_found",
                               "That subscription is not one of your current subscriptions.")
        _check_allowed(items[0], flow)
    data: dict = {"type": flow,
                  "after_completion": {"type": "redirect", "redirect": {"return_url": return_url(config)}}}
    if flow in ("subscription_cancel", "subscription_update"):
        data[flow] = {"subscription": subscription_id}
    elif flow == "subscription_update_confirm":
        price = _target_price(conn, price_id)
        data[flow] = {"subscription": subscription_id,
                      "items": [{"id": item_to_change(items, price, item_id), "price": price["id"]}]}
    return data


def _check_allowed(subscription: dict, flow: str) -> None:
    """The flow is one the subscription allows now (mirror.subscription_actions): Stripe would refuse it."""
    actions = subscription_actions(subscription)
    if flow in ("subscription_update", "subscription_update_confirm") and not actions.change_plan:
        if in_good_standing(subscription):  # several items: the portal cannot change them
            raise plan_change_on_request()
        raise BillingError(409, "plan_change_not_allowed",
                           "This subscription's plan cannot be changed right now. "
                           + ("Resume it first." if actions.resume else "Settle it on your account page first."))
    if flow == "subscription_cancel" and not actions.cancel:
        raise BillingError(409, "cancel_not_allowed", "This subscription cannot be canceled right now.")


def plan_change_on_request() -> BillingError:
    return BillingError(409, "plan_change_on_request",
                        f"This subscription has several parts, which the billing portal cannot change: "
                        f"write to {contact_email()} and we will change it for you.")


def item_to_change(items: list[dict], price: dict, item_id: str | None = None) -> str:
    """The item of a one-item subscription (``items``: live_subscription_of_customer's rows) that a plan
    change to ``price`` replaces; ``item_id``, when given, must be it.  Refused before Stripe would:
    an add-on (added on request), a price in another currency (Stripe cannot switch it), the same price.
    """
    if is_addon(price["product_metadata"]):
        raise BillingError(409, "addon_on_request",
                           f"Add-ons are added to your subscription on request: write to {contact_email()}.")
    currencies = {row["currency"] for row in items if row["currency"]}
    if currencies and price["currency"] not in currencies:
        raise BillingError(400, "currency_mismatch",
                           "That plan is in another currency than your subscription. Choose one in "
                           f"{', '.join(sorted(c.upper() for c in currencies))}.")
    ids = [row["item_id"] for row in items if row["item_id"]]
    if len(ids) != 1:
        raise plan_change_on_request()
    if item_id and item_id != ids[0]:
        raise BillingError(404, "subscription_item_not_found", "That item is not part of this subscription.")
    if items[0]["price_id"] == price["id"]:
        raise already_on_this_plan()
    return ids[0]


def already_on_this_plan() -> BillingError:
    return BillingError(409, "already_on_this_plan", "You are already on this plan.")


def _target_price(conn, price_id: str | None) -> dict:
    if not price_id:
        raise BillingError(400, "price_required", "The subscription_update_confirm flow needs the new price.")
    price = subscribable_price(conn, price_id)
    if price is None:
        raise BillingError(400, "price_not_available", "That price is not an active plan.")
    return price


def create_portal_session(db: Database, stripe: StripeApi, config: Mapping[str, Any], user: BillingUser,
                          flow: str | None = None, subscription_id: str | None = None,
                          price_id: str | None = None, item_id: str | None = None,
                          customer: dict | None | object = NOT_READ) -> str:
    """A new Customer Portal session for ``user``; returns its URL.  ``customer``: the user's customer
    when it was read already (with the user's own row: identity.read_with_sign_in), else looked up.

    Raises BillingError: 400 unknown flow or missing field, 404 no billing
    account or not this user's subscription, and Stripe's failures (see
    stripe_client.translate_stripe_error).  Bad input never reaches Stripe.
    """
    if flow and flow not in FLOWS:
        raise BillingError(400, "unknown_flow", f"Unknown flow {shown(flow)}; valid flows: {', '.join(FLOWS)}.")
    stripe.require_key()
    flow_data = None
    if customer is NOT_READ or flow:  # one connection for what is left to read, none when nothing is
        with db.connection() as conn:
            if customer is NOT_READ:
                customer = customer_for_user(conn, user.id, user_key=config["STRIPE_CUSTOMER_USER_KEY"])
            if customer is not None and flow:
                flow_data = _flow_data(conn, config, customer["id"], flow, subscription_id, price_id, item_id)
    if customer is None:
        raise no_billing_account()
    params: dict = {"customer": customer["id"], "return_url": return_url(config)}
    if config["STRIPE_PORTAL_CONFIGURATION"]:
        params["configuration"] = config["STRIPE_PORTAL_CONFIGURATION"]
    if user.locale:
        params["locale"] = user.locale
    if flow_data:
        params["flow_data"] = flow_data
    options = {"idempotency_key": new_idempotency_key()}
    session = stripe.call(lambda client: client.v1.billing_portal.sessions.create(params=params, options=options))
    return redirect_url(session)

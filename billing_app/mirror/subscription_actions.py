"""What a customer may do next with their subscriptions: the one rule.

The account page (its buttons and next step), the pricing page (Subscribe or
Change plan), checkout (a new subscription or the portal's plan change), the
portal's flows and the JSON summary (which exposes it, so other front ends need
not work it out again) all ask here, from the rows of
``subscriptions.live_subscription_items``.

Stripe's own limits decide the rule: a canceled subscription cannot come back
(a new one is made through Checkout); the portal changes the plan of an active
or trialing subscription of one item only, and not while it is set to end (the
portal offers to renew it first); an incomplete, past-due or unpaid one is
settled by paying its open invoices.  Add-ons (catalogue.is_addon) are not
plans: the portal does not add items, so an add-on is added on request.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing_app.mirror.subscriptions import OWING_STATUSES

# over for good: a new subscription is the only way back
ENDED_STATUSES = ("canceled", "incomplete_expired")
CHANGEABLE_STATUSES = ("active", "trialing")
CANCELABLE_STATUSES = ("active", "trialing", "past_due", "unpaid", "paused")


@dataclass(frozen=True)
class SubscriptionActions:
    """What one subscription allows now (each a button on the account page)."""
    change_plan: bool
    cancel: bool
    resume: bool            # set to end: the portal offers to renew it
    pay: bool               # an open invoice to pay on Stripe's hosted page
    update_payment_method: bool
    subscribe_again: bool   # over: a new subscription through Checkout


def scheduled_to_end(row: dict) -> bool:
    return row["status"] not in ENDED_STATUSES and bool(row["cancel_at_period_end"] or row["cancel_at"])


def in_good_standing(row: dict) -> bool:
    """Active or trialing, and not set to end: nothing to settle before the plan changes."""
    return row["status"] in CHANGEABLE_STATUSES and not scheduled_to_end(row)


def subscription_actions(row: dict) -> SubscriptionActions:
    """The rule for one subscription, from its row (status, cancel_at_period_end, cancel_at, item_count,
    pay_url)."""
    status = row["status"]
    ending = scheduled_to_end(row)
    ended = status in ENDED_STATUSES
    return SubscriptionActions(
        change_plan=in_good_standing(row) and (row.get("item_count") or 0) <= 1,
        cancel=status in CANCELABLE_STATUSES and not ending,
        resume=ending,
        pay=status in OWING_STATUSES and bool(row.get("pay_url")),
        update_payment_method=not ended,
        subscribe_again=ended,
    )


def prices_held(rows: list[dict]) -> set[str]:
    """The prices the customer is on: those of every subscription that is not over, not only the one a
    plan change would change.  Choosing one again changes nothing a customer wants (with two
    subscriptions, the other's plan is theirs too): it is their current plan."""
    return {row["price_id"] for row in rows if row["price_id"] and row["status"] not in ENDED_STATUSES}


@dataclass(frozen=True)
class PlanChoice:
    """What choosing a plan does for this customer.

    ``subscribe``: a new subscription through Checkout (no subscription, or all
    of them over); ``change``: the portal changes ``subscription_id``'s plan;
    ``ask``: the subscription is in good standing but has several items, which
    the portal cannot change: the team does it on request; ``settle``: a
    subscription needs the customer first (pay it, finish its first payment, or
    resume it), and a second one would bill them twice.
    """
    kind: str
    subscription_id: str | None = None


def plan_choice(rows: list[dict]) -> PlanChoice:
    """From the rows of the customer's live subscriptions (newest first)."""
    firsts: dict[str, dict] = {}  # one row per subscription, newest first
    for row in rows:
        firsts.setdefault(row["subscription_id"], row)
    for row in firsts.values():
        if subscription_actions(row).change_plan:
            return PlanChoice("change", row["subscription_id"])
    for row in firsts.values():
        if in_good_standing(row):
            return PlanChoice("ask", row["subscription_id"])
    for row in firsts.values():
        if not subscription_actions(row).subscribe_again:
            return PlanChoice("settle", row["subscription_id"])
    return PlanChoice("subscribe")

"""What the pricing page offers: the catalogue, sorted, in the right currency, with one action per price.

Product metadata, set in the Stripe Dashboard, shapes the page:

    billing_app_kind = addon   an add-on (extra seats, storage): listed apart from the plans
    billing_app_sort = 10      the product's place among its kind, smaller first; products
                               without one come after, by their lowest price per month

Currency: a customer with a subscription sees the prices in its currency only (Stripe
cannot move a subscription to another currency). Anyone else sees each product in the
currency of its default price (the catalogue's most common currency where the mirror
does not keep default prices), and may choose another when the catalogue has several; a
product with no price in the chosen currency keeps its own.

Intervals: every product shows each interval it is sold in. Choosing an interval keeps
only that interval's prices of the products sold in it, and never hides a product that
is not: it keeps its own.

What a price's button does follows mirror.subscription_actions.plan_choice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from billing_app.mirror.catalogue import SORT_KEY, is_addon
from billing_app.mirror.subscription_actions import PlanChoice, prices_held
from billing_app.money import format_money, interval_words

INTERVAL_ORDER = {"day": 0, "week": 1, "month": 2, "year": 3}
MONTHS_PER = {"day": 12 / 365, "week": 12 / 52, "month": 1, "year": 12}
INTERVAL_NAMES = {("day", 1): "Daily", ("week", 1): "Weekly", ("month", 1): "Monthly", ("year", 1): "Yearly"}

# what a price's button does
SIGN_UP, SUBSCRIBE, CHANGE, CURRENT, WITH_A_PLAN, ASK_TO_ADD, ASK_TO_CHANGE, SETTLE_FIRST = (
    "sign_up", "subscribe", "change", "current", "with_a_plan", "ask_to_add", "ask_to_change", "settle_first")


@dataclass
class PriceOffer:
    id: str
    amount: str
    interval: str        # "per month", "every 3 months"
    interval_key: str    # "month", "month-3"
    nickname: str | None
    currency: str
    action: str


@dataclass
class ProductOffer:
    id: str
    name: str
    description: str | None
    addon: bool
    prices: list[PriceOffer] = field(default_factory=list)


@dataclass
class Offer:
    plans: list[ProductOffer]
    addons: list[ProductOffer]
    intervals: list[tuple[str, str]]      # (key, name) to choose from; empty when there is one
    interval: str | None                  # the chosen one, None for all
    currencies: list[tuple[str, str]]     # (key, name) to choose from; empty when there is no choice
    currency: str | None                  # the chosen one (None: each product's own)
    choice: PlanChoice | None             # None: nobody signed in


def interval_key(interval: str, count: int | None) -> str:
    return interval if (count or 1) == 1 else f"{interval}-{count}"


def interval_name(interval: str, count: int | None) -> str:
    count = count or 1
    return INTERVAL_NAMES.get((interval, count)) or f"Every {count} {interval}s"


def per_month(row: dict) -> float:
    return (row["unit_amount"] or 0) / (MONTHS_PER[row["recurring_interval"]] * (row["recurring_interval_count"] or 1))


def sort_key(metadata: Any) -> float:
    try:
        return float((metadata or {}).get(SORT_KEY))
    except (TypeError, ValueError):
        return float("inf")


def build_offer(prices: list[dict], *, choice: PlanChoice | None, subscription_rows: list[dict],
                interval: str | None, currency: str | None) -> Offer:
    """The pricing page for a visitor (``choice`` None) or a signed-in user, from
    catalogue.active_recurring_prices and the rows of their live subscriptions."""
    subscription = [row for row in subscription_rows
                    if choice is not None and row["subscription_id"] == choice.subscription_id]
    current_prices = prices_held(subscription_rows) if choice is not None else set()
    locked = next((row["currency"] for row in subscription if row["currency"]), None)
    if locked:
        prices = [row for row in prices if row["currency"] == locked]
    currencies = sorted({row["currency"] for row in prices})
    currency = locked or (currency if currency in currencies else None)
    common = Counter(row["currency"] for row in prices).most_common(1)[0][0] if prices else None

    by_product: dict[str, list[dict]] = {}
    for row in prices:
        by_product.setdefault(row["product_id"], []).append(row)
    keys = {interval_key(r["recurring_interval"], r["recurring_interval_count"]): r for r in prices}
    interval = interval if interval in keys else None

    products: list[tuple[tuple, ProductOffer]] = []
    for rows in by_product.values():
        default = next((r for r in rows if r["is_default_price"]), None)
        own = default["currency"] if default else (common if any(r["currency"] == common for r in rows)
                                                   else rows[0]["currency"])
        shown = [r for r in rows if r["currency"] == (currency if any(r["currency"] == currency for r in rows)
                                                      else own)]
        in_interval = [r for r in shown if interval_key(r["recurring_interval"], r["recurring_interval_count"])
                       == interval]
        shown = in_interval or shown
        shown.sort(key=lambda r: (INTERVAL_ORDER.get(r["recurring_interval"], 9), r["recurring_interval_count"] or 1,
                                  r["unit_amount"] or 0, r["id"]))
        first = rows[0]
        addon = is_addon(first["product_metadata"])
        product = ProductOffer(id=first["product_id"], name=first["product_name"] or "Unnamed plan",
                               description=first["product_description"], addon=addon)
        for row in shown:
            product.prices.append(PriceOffer(
                id=row["id"], amount=format_money(row["unit_amount"], row["currency"]),
                interval=interval_words(row["recurring_interval"], row["recurring_interval_count"]),
                interval_key=interval_key(row["recurring_interval"], row["recurring_interval_count"]),
                nickname=row["nickname"], currency=row["currency"],
                action=_action(row, addon, choice, current_prices)))
        order = (sort_key(first["product_metadata"]), min(per_month(r) for r in shown), product.name, product.id)
        products.append((order, product))
    products.sort(key=lambda pair: pair[0])
    toggle = sorted({(k, interval_name(r["recurring_interval"], r["recurring_interval_count"]))
                     for k, r in keys.items()},
                    key=lambda kv: (INTERVAL_ORDER.get(keys[kv[0]]["recurring_interval"], 9),
                                    keys[kv[0]]["recurring_interval_count"] or 1))
    return Offer(plans=[p for _, p in products if not p.addon], addons=[p for _, p in products if p.addon],
                 intervals=toggle if len(toggle) > 1 else [], interval=interval,
                 currencies=[(c, c.upper()) for c in currencies] if len(currencies) > 1 and not locked else [],
                 currency=currency,
                 choice=choice)


def _action(row: dict, addon: bool, choice: PlanChoice | None, current_prices: set) -> str:
    """What the price's button does: plan_choice's answer, for a plan or an add-on."""
    if choice is None:
        return SIGN_UP
    if row["id"] in current_prices:
        return CURRENT
    if choice.kind == "settle":
        return SETTLE_FIRST
    if choice.kind == "subscribe":
        return WITH_A_PLAN if addon else SUBSCRIBE
    if addon:
        return ASK_TO_ADD  # the portal changes a plan; it does not add items
    return CHANGE if choice.kind == "change" else ASK_TO_CHANGE

from itertools import groupby

from flask import render_template, request

from billing_app.mirror.customers import customer_for_user
from billing_app.mirror.subscriptions import live_subscription_items
from billing_app.account.summary import interval_words
from billing_app.billing import settings
from billing_app.db import get_db
from billing_app.identity import current_billing_user
from billing_app.money import format_money
from billing_app.plans import bp
from billing_app.mirror.catalogue import active_recurring_prices

INTERVAL_NAMES = {("day", 1): "Daily", ("week", 1): "Weekly", ("month", 1): "Monthly", ("year", 1): "Yearly"}


def _interval_key(row) -> str:
    count = row["recurring_interval_count"] or 1
    return row["recurring_interval"] if count == 1 else f"{row['recurring_interval']}-{count}"


def _interval_name(row) -> str:
    count = row["recurring_interval_count"] or 1
    return INTERVAL_NAMES.get((row["recurring_interval"], count)) or f"Every {count} {row['recurring_interval']}s"


def _current_plan(conn, user) -> tuple[set[str], str | None]:
    """The price ids ``user`` pays for now, and their newest live subscription."""
    if user is None:
        return set(), None
    customer = customer_for_user(conn, user.id, user_key=settings()["STRIPE_CUSTOMER_USER_KEY"])
    if customer is None or not customer["has_live_subscription"]:
        return set(), None
    rows = live_subscription_items(conn, customer["id"])
    return {r["price_id"] for r in rows if r["price_id"]}, rows[0]["subscription_id"]


@bp.route("/pricing")
def pricing():
    """The active recurring prices by product, one billing interval at a time."""
    user = current_billing_user()  # before the connection: a token check may have to fetch keys
    conn = get_db()
    prices = [{**row, "amount": format_money(row["unit_amount"], row["currency"]),
               "interval": interval_words(row["recurring_interval"], row["recurring_interval_count"]),
               "interval_key": _interval_key(row), "interval_name": _interval_name(row)}
              for row in active_recurring_prices(conn)]
    intervals = {p["interval_key"]: p["interval_name"] for p in prices}
    toggle = sorted(intervals.items(), key=lambda kv: list(INTERVAL_NAMES.values()).index(kv[1])
                    if kv[1] in INTERVAL_NAMES.values() else 99)
    selected = request.args.get("interval")
    if selected not in intervals:
        selected = "month" if "month" in intervals else (toggle[0][0] if toggle else None)
    shown = [p for p in prices if p["interval_key"] == selected]
    products = [(name, list(group)) for name, group in groupby(shown, key=lambda p: p["product_name"])]
    current_prices, subscription_id = _current_plan(conn, user)
    return render_template("billing/pricing.html", products=products, toggle=toggle if len(toggle) > 1 else [],
                           selected=selected, current_prices=current_prices, subscription_id=subscription_id)

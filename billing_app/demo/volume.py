"""`flask demo --customers N` and the benchmark's mirror: many generated customers, through COPY.

Per customer: one app user linked by metadata.user_id, three cards, one
subscription with one item (every fifth customer two, in the same currency),
three invoices whose totals equal their lines; on a catalogue of 20 products
and 50 prices.  The objects are Stripe objects, written in the shape of the
database's mirror (``billing_app.demo.shapes``), so every source can be
measured on the same data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

import psycopg
from werkzeug.security import generate_password_hash

from billing_app.demo import DEMO_DOMAIN, DEMO_PASSWORD, replacing_writer, utcnow
from billing_app.demo import stripe_objects as stripe

VOLUME_PREFIX = "vol"
VOLUME_PRODUCTS = 20
VOLUME_PRICES = 50
CHUNK = 10_000
# (currency, unit amount, interval, interval count), cycled over the volume prices
_PRICE_SHAPES = [("usd", 1900, "month", 1), ("usd", 19000, "year", 1), ("eur", 1500, "month", 1),
                 ("usd", 5400, "month", 3), ("jpy", 2500, "month", 1), ("usd", 700, "week", 1),
                 ("eur", 15000, "year", 1), ("gbp", 1200, "month", 1), ("usd", 4900, "month", 1),
                 ("usd", 100, "month", 1)]
_STATUSES = ["active"] * 14 + ["trialing", "past_due", "canceled", "unpaid", "paused", "incomplete"]


def volume_prices(now: datetime) -> list[dict]:
    """The generated catalogue's prices (every 25th metered)."""
    prices = []
    for k in range(VOLUME_PRICES):
        currency, amount, interval, count = _PRICE_SHAPES[k % len(_PRICE_SHAPES)]
        prices.append(stripe.price(
            f"price_{VOLUME_PREFIX}_{k}", now=now, product_id=f"prod_{VOLUME_PREFIX}_{k % VOLUME_PRODUCTS}",
            currency=currency, unit_amount=amount + 100 * (k // len(_PRICE_SHAPES)), interval=interval,
            interval_count=count, nickname=f"price {VOLUME_PREFIX} {k}",
            recurring_usage_type="metered" if k % 25 == 24 else "licensed"))
    return prices


def _second_price(prices: list[dict], first: int) -> dict:
    """Another price in the same currency as prices[first] (a customer bills in one currency)."""
    currency = prices[first]["currency"]
    for step in range(1, len(prices)):
        candidate = prices[(first + step) % len(prices)]
        if candidate["currency"] == currency:
            return candidate
    return prices[first]


def customer_objects(i: int, user_id: int, prices: list[dict], now: datetime) -> dict[str, list[dict]]:
    """The Stripe objects of generated customer ``i``, by kind."""
    v = VOLUME_PREFIX
    customer_id = f"cus_{v}_{i}"
    first = i % len(prices)
    objects: dict[str, list[dict]] = {"customer": [], "payment_method": [], "subscription": [], "invoice": []}
    objects["customer"].append(stripe.customer(
        customer_id, now=now, user_id=user_id, email=f"volume-{i + 1}@{DEMO_DOMAIN}",
        currency=prices[first]["currency"], default_payment_method=f"pm_{v}_{i}_0",
        created=now - timedelta(minutes=i % 500_000)))
    for k in range(3):  # the default card and two older ones
        objects["payment_method"].append(stripe.payment_method(
            f"pm_{v}_{i}_{k}", now=now, customer_id=customer_id, brand=("visa", "mastercard", "amex")[k],
            last4=f"{(i + k) % 10_000:04d}", exp_month=1 + i % 12, exp_year=now.year + 2 - 2 * k,
            created=now - timedelta(days=400 * k)))
    quantity = 1 + i % 3
    for n in range(2 if i % 5 == 0 else 1):
        price = prices[first] if n == 0 else _second_price(prices, first)
        start = now - timedelta(days=(i * 7 + n) % 700)
        status = _STATUSES[(i + n) % len(_STATUSES)]
        ended = start + timedelta(days=(i % 300) + 1) if status == "canceled" else None
        objects["subscription"].append(stripe.subscription(
            f"sub_{v}_{i}_{n}", now=now, customer_id=customer_id, status=status, items=[(price, quantity)],
            created=start, start_date=start, current_period_start=now - timedelta(days=i % 30),
            current_period_end=now + timedelta(days=30 - i % 30), cancel_at_period_end=i % 17 == 0,
            trial_end=now + timedelta(days=i % 20) if status == "trialing" else None,
            canceled_at=ended, ended_at=ended))
    price = prices[first]
    amount = price["unit_amount"] * quantity
    for k in range(3):
        open_ = k == 0 and _STATUSES[i % len(_STATUSES)] in ("past_due", "unpaid")
        objects["invoice"].append(stripe.invoice(
            f"in_{v}_{i}_{k}", now=now, customer_id=customer_id, subscription_id=f"sub_{v}_{i}_0", amount=amount,
            currency=price["currency"], status="open" if open_ else "paid", number=f"VOL-{i}-{k}",
            created=now - timedelta(days=30 * k), hosted_invoice_url=None, invoice_pdf=None,
            lines=[{"amount": amount, "quantity": quantity, "price": price["id"],
                    "subscription_item": f"si_sub_{v}_{i}_0_1"}]))
    return objects


def load_volume(conninfo: str, customers: int, *, progress: Callable[[int], object] | None = None,
                source: str | None = None) -> None:
    """Add ``customers`` generated users and customers through COPY, replacing an earlier volume load."""
    now = utcnow()
    prices = volume_prices(now)
    password_hash = generate_password_hash(DEMO_PASSWORD)
    with psycopg.connect(conninfo) as conn:
        # a loader that writes objects in bulk, as a replication apply does
        conn.execute("SET session_replication_role = replica")
        writer = replacing_writer(conn, source, f"%\\_{VOLUME_PREFIX}\\_%")
        conn.execute("DELETE FROM billing_app.users WHERE email LIKE %s", (f"volume-%@{DEMO_DOMAIN}",))
        writer.copy("product", [stripe.product(f"prod_{VOLUME_PREFIX}_{p}", now=now, name=f"Plan {p + 1}")
                                for p in range(VOLUME_PRODUCTS)])
        writer.copy("price", prices)
        user_ids = [row[0] for row in conn.execute(
            """INSERT INTO billing_app.users (email, password_hash)
               SELECT 'volume-' || g || '@' || %s, %s FROM generate_series(1, %s) AS g
               ORDER BY g RETURNING id""", (DEMO_DOMAIN, password_hash, customers))]
        for start in range(0, customers, CHUNK):
            chunk = range(start, min(customers, start + CHUNK))
            by_kind: dict[str, list[dict]] = {}
            for i in chunk:
                for kind, objects in customer_objects(i, user_ids[i], prices, now).items():
                    by_kind.setdefault(kind, []).extend(objects)
            for kind in ("customer", "payment_method", "subscription", "invoice"):
                writer.copy(kind, by_kind[kind])
            if progress is not None:
                progress(len(chunk))

"""`flask demo`: demo users and a small Stripe mirror covering every account state.

The demo objects are Stripe objects Stripe could hold (one currency per
customer and per subscription, no paid invoice for a trial, invoice totals
equal to their lines), written in the shape of the mirror the database holds
(Sequin's when it holds none yet: `flask db init --mirror`), as that source's
sync service writes them.  That is writing schema ``stripe``, which only a sync
service does in production, so it runs over the owner connection
(DATABASE_URL, no SET ROLE) and refuses a mirror that holds live-mode data.
Running it again replaces the demo rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import click
import psycopg
from werkzeug.security import generate_password_hash

from billing_app.demo import stripe_objects as stripe
from billing_app.demo.shapes import ShapeWriter, delete_rows
from billing_app.mirror.customers import live_mode_customers
from billing_app.mirror.source import SourceError, detect_source

DEMO_PASSWORD = "demo-password"
DEMO_DOMAIN = "example.com"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


@dataclass
class DemoAccount:
    """One demo user and, unless ``subscriptions`` is None, their Stripe customer."""
    key: str
    story: str
    subscriptions: list[dict[str, Any]] | None = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"{self.key}@{DEMO_DOMAIN}"


PRODUCTS = [
    # id, name, description, active, deleted, metadata (plans/offer.py), default price
    ("prod_demo_starter", "Starter", "For individuals", True, False, {"billing_app_sort": "1"},
     "price_demo_starter_monthly"),
    ("prod_demo_pro", "Pro", "For growing teams", True, False, {"billing_app_sort": "2"}, "price_demo_pro_monthly"),
    ("prod_demo_seats", "Extra seats", "Additional team members", True, False, {"billing_app_kind": "addon"},
     "price_demo_seats_monthly"),
    ("prod_demo_legacy", "Legacy plan", "No longer sold", False, True, {}, None),
]

PRICES = [
    # id, product, nickname, currency, unit_amount, interval, interval_count, active, deleted
    ("price_demo_starter_monthly", "prod_demo_starter", "Starter monthly", "usd", 900, "month", 1, True, False),
    ("price_demo_pro_monthly", "prod_demo_pro", "Pro monthly", "usd", 2900, "month", 1, True, False),
    ("price_demo_pro_quarterly", "prod_demo_pro", "Pro quarterly", "usd", 7900, "month", 3, True, False),
    ("price_demo_pro_yearly", "prod_demo_pro", "Pro yearly", "usd", 29000, "year", 1, True, False),
    ("price_demo_pro_monthly_jpy", "prod_demo_pro", "Pro monthly (Japan)", "jpy", 3000, "month", 1, True, False),
    ("price_demo_seats_monthly", "prod_demo_seats", "Per seat", "usd", 500, "month", 1, True, False),
    ("price_demo_legacy_monthly", "prod_demo_legacy", "Legacy monthly", "usd", 1500, "month", 1, False, True),
]


def _sub(status: str, *items: tuple[str, int], started_days_ago: int = 20, **extra: Any) -> dict[str, Any]:
    return {"status": status, "items": list(items), "started_days_ago": started_days_ago, **extra}


ACCOUNTS = [
    DemoAccount("alice", "active monthly plan", [_sub("active", ("price_demo_pro_monthly", 1))]),
    DemoAccount("bob", "yearly plan", [_sub("active", ("price_demo_pro_yearly", 1), started_days_ago=100)]),
    DemoAccount("carol", "in a free trial", [_sub("trialing", ("price_demo_starter_monthly", 1),
                                                  started_days_ago=1, trial_days=14)]),
    DemoAccount("dave", "payment failed (past due)", [_sub("past_due", ("price_demo_pro_monthly", 1),
                                                          started_days_ago=35)]),
    DemoAccount("erin", "cancels at period end", [_sub("active", ("price_demo_pro_quarterly", 1),
                                                      cancel_at_period_end=True)]),
    DemoAccount("frank", "canceled last month", [_sub("canceled", ("price_demo_starter_monthly", 1),
                                                      started_days_ago=70, ended_days_ago=30)]),
    DemoAccount("grace", "two subscriptions, one with seats",
                [_sub("active", ("price_demo_pro_monthly", 1), ("price_demo_seats_monthly", 3)),
                 _sub("active", ("price_demo_starter_monthly", 1), started_days_ago=3)]),
    DemoAccount("heidi", "no Stripe customer yet", None),
]


class DemoError(click.ClickException):
    pass


def _refuse_live_mirror(conn: psycopg.Connection) -> None:
    live = live_mode_customers(conn)
    if live:
        raise DemoError(f"this mirror holds {live} live-mode customers; the demo loader only "
                        "writes to a local mirror (unset DATABASE_URL to use the embedded one)")


def catalog_objects(now: datetime) -> tuple[list[tuple[dict, bool]], dict[str, dict]]:
    """([(product, deleted)], {price id: price}) of the demo catalogue."""
    products = [(stripe.product(pid, now=now, name=name, description=description, active=active,
                                metadata=metadata, default_price=default, created=now - timedelta(days=400)), deleted)
                for pid, name, description, active, deleted, metadata, default in PRODUCTS]
    prices = {pid: stripe.price(pid, now=now, product_id=product, currency=currency, unit_amount=amount,
                                interval=interval, interval_count=count, nickname=nickname, active=active,
                                created=now - timedelta(days=400))
              for pid, product, nickname, currency, amount, interval, count, active, _ in PRICES}
    return products, prices


def _period(interval: str, count: int, start: datetime, now: datetime) -> tuple[datetime, datetime]:
    step = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=30),
            "year": timedelta(days=365)}[interval] * count
    period_start = start
    while period_start + step <= now:
        period_start += step
    return period_start, period_start + step


def account_objects(account: DemoAccount, user_id: int, prices: dict[str, dict],
                    now: datetime) -> list[tuple[str, dict]]:
    """(kind, Stripe object) for one demo customer: the customer, its card, subscriptions and invoices."""
    customer_id, pm_id = f"cus_demo_{account.key}", f"pm_demo_{account.key}"
    expired = account.key == "dave"  # the past-due customer's card has expired
    objects = [
        ("customer", stripe.customer(customer_id, now=now, user_id=user_id, email=account.email,
                                     name=account.key.title(), currency="usd", default_payment_method=pm_id,
                                     created=now - timedelta(days=120))),
        ("payment_method", stripe.payment_method(
            pm_id, now=now, customer_id=customer_id, brand="mastercard" if expired else "visa",
            last4="4444" if expired else "4242", exp_month=1 if expired else 12,
            exp_year=now.year - 1 if expired else now.year + 3, created=now - timedelta(days=120))),
    ]
    for n, spec in enumerate(account.subscriptions or [], start=1):
        sub_id = f"sub_demo_{account.key}_{n}"
        first = prices[spec["items"][0][0]]
        start = now - timedelta(days=spec["started_days_ago"])
        ended = now - timedelta(days=spec["ended_days_ago"]) if spec.get("ended_days_ago") else None
        # the period running now, or the one in which an ended subscription ended
        period_start, period_end = _period(first["recurring"]["interval"], first["recurring"]["interval_count"],
                                           start, ended or now)
        trial_end = start + timedelta(days=spec["trial_days"]) if spec.get("trial_days") else None
        if trial_end:
            period_start, period_end = start, trial_end
        cancels = bool(spec.get("cancel_at_period_end"))
        latest = None if trial_end else f"in_demo_{account.key}_{n}_0"  # the newest invoice, written below
        objects.append(("subscription", stripe.subscription(
            sub_id, now=now, customer_id=customer_id, status=spec["status"],
            items=[(prices[p], q) for p, q in spec["items"]], created=start, start_date=start,
            current_period_start=period_start, current_period_end=period_end,
            cancel_at_period_end=cancels, cancel_at=period_end if cancels else None,
            canceled_at=ended or (now - timedelta(days=2) if cancels else None), ended_at=ended,
            trial_start=start if trial_end else None, trial_end=trial_end, latest_invoice=latest)))
        if trial_end:
            continue  # nothing is charged during a trial
        lines = [{"amount": prices[p]["unit_amount"] * q, "quantity": q, "price": p,
                  "subscription_item": f"si_{sub_id}_{m}"} for m, (p, q) in enumerate(spec["items"], start=1)]
        for k in range(3):  # the invoices of the last three periods it ran
            created = period_start - timedelta(days=30 * k)
            if created < start - timedelta(days=1):
                break
            failed = spec["status"] == "past_due" and k == 0
            objects.append(("invoice", stripe.invoice(
                f"in_demo_{account.key}_{n}_{k}", now=now, customer_id=customer_id, subscription_id=sub_id,
                amount=sum(line["amount"] for line in lines), currency=first["currency"],
                status="open" if failed else "paid", created=created, number=f"DEMO-{account.key.upper()}-{n}{k:03d}",
                period_start=created, period_end=created + timedelta(days=30), lines=lines)))
    return objects


def replacing_writer(conn: psycopg.Connection, source: str | None, id_pattern: str) -> ShapeWriter:
    """A writer in the shape of the database's mirror (``source`` forces one), after removing the
    rows whose id matches ``id_pattern`` (LIKE) from a mirror that holds no live-mode data."""
    try:
        found = detect_source(conn, source).name
    except SourceError as exc:
        raise DemoError(str(exc)) from None
    _refuse_live_mirror(conn)
    delete_rows(conn, found, id_pattern)
    return ShapeWriter(conn, found, synced_at=datetime.now(timezone.utc))


def load_demo(conninfo: str, source: str | None = None) -> list[DemoAccount]:
    """Replace the demo rows in one transaction, in the shape of the database's mirror; returns the accounts."""
    now = utcnow()
    password_hash = generate_password_hash(DEMO_PASSWORD)
    with psycopg.connect(conninfo) as conn:
        writer = replacing_writer(conn, source, "%\\_demo\\_%")
        conn.execute("DELETE FROM billing_app.users WHERE email = ANY(%s)", ([a.email for a in ACCOUNTS],))
        products, prices = catalog_objects(now)
        for product, deleted in products:
            writer.write("product", product, deleted=deleted)
        for pid, *_, deleted in PRICES:
            writer.write("price", prices[pid], deleted=deleted)
        for account in ACCOUNTS:
            user_id = conn.execute(
                "INSERT INTO billing_app.users (email, password_hash, email_verified_at) VALUES (%s, %s, now()) "
                "RETURNING id",
                (account.email, password_hash)).fetchone()[0]
            if account.subscriptions is not None:
                for kind, obj in account_objects(account, user_id, prices, now):
                    writer.write(kind, obj)
    return ACCOUNTS

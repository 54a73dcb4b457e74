"""`flask demo`: demo users and a small Stripe mirror covering every account state.

This writes the ``stripe.*`` tables, which only a sync service does in
production, so it runs over the owner connection (DATABASE_URL, no SET ROLE)
and refuses a mirror that holds live-mode data.  Running it again replaces the
demo rows; ``--customers N`` adds N generated customers through COPY.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import click
import psycopg
from psycopg import sql
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.security import generate_password_hash

DEMO_PASSWORD = "demo-password"
DEMO_DOMAIN = "example.com"
VOLUME_PREFIX = "vol"


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
    # id, name, description, active, deleted
    ("prod_demo_starter", "Starter", "For individuals", True, False),
    ("prod_demo_pro", "Pro", "For growing teams", True, False),
    ("prod_demo_seats", "Extra seats", "Additional team members", True, False),
    ("prod_demo_legacy", "Legacy plan", "No longer sold", False, True),
]

PRICES = [
    # id, product, nickname, currency, unit_amount, interval, interval_count, active, deleted
    ("price_demo_starter_monthly", "prod_demo_starter", "Starter monthly", "usd", 900, "month", 1, True, False),
    ("price_demo_pro_monthly", "prod_demo_pro", "Pro monthly", "usd", 2900, "month", 1, True, False),
    ("price_demo_pro_quarterly", "prod_demo_pro", "Pro quarterly", "usd", 7900, "month", 3, True, False),
    ("price_demo_pro_yearly", "prod_demo_pro", "Pro yearly", "usd", 29000, "year", 1, True, False),
    ("price_demo_pro_monthly_jpy", "prod_demo_pro", "Pro monthly (Japan)", "jpy", 3000, "month", 1, True, False),
    ("price_demo_seats_monthly", "prod_demo_seats", "Per seat", "eur", 500, "month", 1, True, False),
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
    DemoAccount("grace", "two subscriptions, one with seats, one in yen",
                [_sub("active", ("price_demo_pro_monthly", 1), ("price_demo_seats_monthly", 3)),
                 _sub("active", ("price_demo_pro_monthly_jpy", 1), started_days_ago=3)]),
    DemoAccount("heidi", "no Stripe customer yet", None),
]


class DemoError(click.ClickException):
    pass


def _refuse_live_mirror(conn: psycopg.Connection) -> None:
    live = conn.execute("SELECT count(*) FROM stripe.customer WHERE livemode").fetchone()[0]
    if live:
        raise DemoError(f"this mirror holds {live} live-mode customers; the demo loader only "
                        "writes to a local mirror (unset DATABASE_URL to use the embedded one)")


def _delete_mirror_rows(conn: psycopg.Connection, pattern: str) -> None:
    for table in ("invoice", "subscription_item", "subscription"):
        conn.execute(f"DELETE FROM stripe.{table} WHERE id LIKE %s", (pattern,))  # noqa: S608 constant names
    conn.execute("UPDATE stripe.customer SET invoice_settings_default_payment_method_id = NULL WHERE id LIKE %s",
                 (pattern,))
    for table in ("payment_method", "customer"):
        conn.execute(f"DELETE FROM stripe.{table} WHERE id LIKE %s", (pattern,))  # noqa: S608 constant names


def _insert(conn: psycopg.Connection, table: str, row: dict[str, Any]) -> None:
    columns = sql.SQL(", ").join(map(sql.Identifier, row))
    values = sql.SQL(", ").join(sql.Placeholder() * len(row))
    conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier("stripe", table), columns, values), list(row.values()))


def load_catalog(conn: psycopg.Connection, now: datetime) -> None:
    for pid, name, description, active, deleted in PRODUCTS:
        conn.execute("DELETE FROM stripe.price WHERE product_id = %s", (pid,))
        conn.execute("DELETE FROM stripe.product WHERE id = %s", (pid,))
        _insert(conn, "product", dict(id=pid, object="product", name=name, description=description,
                                      active=active, deleted=deleted, created=now - timedelta(days=400),
                                      updated=now - timedelta(days=30), livemode=False,
                                      metadata=json.dumps({})))
    for (pid, product, nickname, currency, amount, interval, count, active, deleted) in PRICES:
        _insert(conn, "price", dict(id=pid, object="price", product_id=product, active=active, currency=currency,
                                    unit_amount=amount, unit_amount_decimal=amount, type="recurring",
                                    billing_scheme="per_unit", recurring_interval=interval,
                                    recurring_interval_count=count, recurring_usage_type="licensed",
                                    nickname=nickname, created=now - timedelta(days=400), livemode=False,
                                    metadata=json.dumps({}), deleted=deleted))


def _period(interval: str, count: int, start: datetime, now: datetime) -> tuple[datetime, datetime]:
    step = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=30),
            "year": timedelta(days=365)}[interval] * count
    period_start = start
    while period_start + step <= now:
        period_start += step
    return period_start, period_start + step


def load_account(conn: psycopg.Connection, account: DemoAccount, password_hash: str, now: datetime) -> None:
    user_id = conn.execute(
        "INSERT INTO billing_app.users (email, password_hash) VALUES (%s, %s) RETURNING id",
        (account.email, password_hash)).fetchone()[0]
    if account.subscriptions is None:
        return
    customer_id = f"cus_demo_{account.key}"
    pm_id = f"pm_demo_{account.key}"
    _insert(conn, "customer", dict(
        id=customer_id, object="customer", created=now - timedelta(days=120), email=account.email,
        name=account.key.title(), currency="usd", delinquent=any(s["status"] == "past_due"
                                                                  for s in account.subscriptions),
        balance=0, livemode=False, metadata=json.dumps({"user_id": str(user_id)}),
        preferred_locales=["en"], deleted=False, invoice_settings_default_payment_method_id=pm_id))
    expired = account.key == "dave"  # the past-due customer's card has expired
    _insert(conn, "payment_method", dict(
        id=pm_id, object="payment_method", customer_id=customer_id, type="card",
        card_brand="mastercard" if expired else "visa", card_last4="4444" if expired else "4242",
        card_exp_month=1 if expired else 12, card_exp_year=now.year - 1 if expired else now.year + 3,
        billing_details_email=account.email, created=now - timedelta(days=120), livemode=False,
        metadata=json.dumps({})))
    prices = {p[0]: p for p in PRICES}
    for n, spec in enumerate(account.subscriptions, start=1):
        sub_id = f"sub_demo_{account.key}_{n}"
        first_price = prices[spec["items"][0][0]]
        start = now - timedelta(days=spec["started_days_ago"])
        period_start, period_end = _period(first_price[5], first_price[6], start, now)
        trial_end = start + timedelta(days=spec["trial_days"]) if spec.get("trial_days") else None
        if trial_end:
            period_start, period_end = start, trial_end
        ended = now - timedelta(days=spec["ended_days_ago"]) if spec.get("ended_days_ago") else None
        _insert(conn, "subscription", dict(
            id=sub_id, object="subscription", customer_id=customer_id, status=spec["status"],
            created=start, start_date=start, current_period_start=period_start,
            current_period_end=ended or period_end,
            cancel_at_period_end=bool(spec.get("cancel_at_period_end")),
            cancel_at=period_end if spec.get("cancel_at_period_end") else None,
            canceled_at=ended or (now - timedelta(days=2) if spec.get("cancel_at_period_end") else None),
            ended_at=ended, trial_start=start if trial_end else None, trial_end=trial_end,
            collection_method="charge_automatically", livemode=False, metadata=json.dumps({})))
        for m, (price_id, quantity) in enumerate(spec["items"], start=1):
            _insert(conn, "subscription_item", dict(
                id=f"si_demo_{account.key}_{n}_{m}", object="subscription_item", subscription_id=sub_id,
                price_id=price_id, quantity=quantity, created=start, metadata=json.dumps({}), deleted=False,
                current_period_start=period_start, current_period_end=ended or period_end))
        amount = sum(prices[p][4] * q for p, q in spec["items"])
        for k in range(3):
            created = period_start - timedelta(days=30 * k)
            if created < start - timedelta(days=1):
                break
            failed = spec["status"] == "past_due" and k == 0
            in_id = f"in_demo_{account.key}_{n}_{k}"
            _insert(conn, "invoice", dict(
                id=in_id, object="invoice", customer_id=customer_id, subscription_id=sub_id,
                status="open" if failed else "paid", paid=not failed, amount_due=amount,
                amount_paid=0 if failed else amount, amount_remaining=amount if failed else 0,
                subtotal=amount, total=amount, currency=first_price[3],
                number=f"DEMO-{account.key.upper()}-{n}{k:03d}",
                hosted_invoice_url=f"https://invoice.stripe.com/i/{in_id}",
                invoice_pdf=f"https://pay.stripe.com/invoice/{in_id}/pdf",
                period_start=created, period_end=created + timedelta(days=30), created=created,
                due_date=None, status_transitions_paid_at=None if failed else created, livemode=False,
                metadata=json.dumps({}), deleted=False))


def load_demo(conninfo: str) -> list[DemoAccount]:
    """Replace the demo rows in one transaction; returns the accounts loaded."""
    now = utcnow()
    password_hash = generate_password_hash(DEMO_PASSWORD)
    with psycopg.connect(conninfo) as conn:
        _refuse_live_mirror(conn)
        _delete_mirror_rows(conn, "%\\_demo\\_%")
        conn.execute("DELETE FROM billing_app.users WHERE email = ANY(%s)", ([a.email for a in ACCOUNTS],))
        load_catalog(conn, now)
        for account in ACCOUNTS:
            load_account(conn, account, password_hash, now)
    return ACCOUNTS


# --- volume -----------------------------------------------------------------

VOLUME_PRODUCTS = 20
VOLUME_PRICES = 50
# (currency, unit amount, interval, interval count), cycled over the volume prices
_VOLUME_PRICE_SHAPES = [("usd", 1900, "month", 1), ("usd", 19000, "year", 1), ("eur", 1500, "month", 1),
                        ("usd", 5400, "month", 3), ("jpy", 2500, "month", 1), ("usd", 700, "week", 1),
                        ("eur", 15000, "year", 1), ("gbp", 1200, "month", 1), ("usd", 4900, "month", 1),
                        ("usd", 100, "month", 1)]


def _chunks(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def volume_prices() -> list[tuple]:
    """The generated catalogue: (id, product, currency, unit amount, interval, interval count, usage type)."""
    prices = []
    for k in range(VOLUME_PRICES):
        currency, amount, interval, count = _VOLUME_PRICE_SHAPES[k % len(_VOLUME_PRICE_SHAPES)]
        usage = "metered" if k % 25 == 24 else "licensed"
        prices.append((f"price_{VOLUME_PREFIX}_{k}", f"prod_{VOLUME_PREFIX}_{k % VOLUME_PRODUCTS}", currency,
                       amount + 100 * (k // len(_VOLUME_PRICE_SHAPES)), interval, count, usage))
    return prices


def load_volume(conninfo: str, customers: int, *, progress=None) -> None:
    """Add ``customers`` generated users and customers through COPY, replacing an earlier volume load.

    Per customer: one app user linked by metadata.user_id, three card payment
    methods, three invoices, one subscription with one item (every fifth
    customer two), on a catalogue of 20 products and 50 prices.
    """
    now = utcnow()
    prices = volume_prices()
    password_hash = generate_password_hash(DEMO_PASSWORD)
    with psycopg.connect(conninfo) as conn:
        _refuse_live_mirror(conn)
        # a loader that writes objects in bulk, as a replication apply does
        conn.execute("SET session_replication_role = replica")
        _delete_mirror_rows(conn, f"%\\_{VOLUME_PREFIX}\\_%")
        conn.execute("DELETE FROM stripe.price WHERE id LIKE %s", (f"price\\_{VOLUME_PREFIX}\\_%",))
        conn.execute("DELETE FROM stripe.product WHERE id LIKE %s", (f"prod\\_{VOLUME_PREFIX}\\_%",))
        conn.execute("DELETE FROM billing_app.users WHERE email LIKE %s", (f"volume-%@{DEMO_DOMAIN}",))
        cur = conn.cursor()
        with cur.copy("COPY stripe.product (id, object, name, active, created, livemode, metadata, deleted) "
                      "FROM STDIN") as copy:
            for p in range(VOLUME_PRODUCTS):
                copy.write_row((f"prod_{VOLUME_PREFIX}_{p}", "product", f"Plan {p + 1}", True, now, False,
                                "{}", False))
        with cur.copy("COPY stripe.price (id, object, product_id, active, currency, unit_amount, type, "
                      "billing_scheme, recurring_interval, recurring_interval_count, recurring_usage_type, "
                      "nickname, created, livemode, metadata, deleted) FROM STDIN") as copy:
            for pid, product, currency, amount, interval, count, usage in prices:
                copy.write_row((pid, "price", product, True, currency, amount, "recurring", "per_unit", interval,
                                count, usage, pid.replace("_", " "), now, False, "{}", False))
        user_ids = [row[0] for row in conn.execute(
            """INSERT INTO billing_app.users (email, password_hash)
               SELECT 'volume-' || g || '@' || %s, %s FROM generate_series(1, %s) AS g
               ORDER BY g RETURNING id""", (DEMO_DOMAIN, password_hash, customers))]
        for chunk in _chunks(customers, 10_000):
            _copy_volume_chunk(cur, chunk, user_ids, prices, now)
            if progress is not None:
                progress(len(chunk))


def _copy_volume_chunk(cur, chunk: range, user_ids: list[int], prices, now: datetime) -> None:
    v = VOLUME_PREFIX
    with cur.copy("COPY stripe.customer (id, object, created, email, livemode, metadata, deleted, "
                  "invoice_settings_default_payment_method_id) FROM STDIN") as copy:
        for i in chunk:
            copy.write_row((f"cus_{v}_{i}", "customer", now - timedelta(minutes=i % 500_000),
                            f"volume-{i + 1}@{DEMO_DOMAIN}", False, f'{{"user_id": "{user_ids[i]}"}}', False,
                            f"pm_{v}_{i}_0"))
    with cur.copy("COPY stripe.payment_method (id, object, customer_id, type, card_brand, card_last4, "
                  "card_exp_month, card_exp_year, created, livemode) FROM STDIN") as copy:
        for i in chunk:
            for k in range(3):  # the default card and two older ones
                copy.write_row((f"pm_{v}_{i}_{k}", "payment_method", f"cus_{v}_{i}", "card",
                                ("visa", "mastercard", "amex")[k], f"{(i + k) % 10_000:04d}", 1 + i % 12,
                                now.year + 2 - 2 * k, now - timedelta(days=400 * k), False))
    subs = [(i, n) for i in chunk for n in range(2 if i % 5 == 0 else 1)]
    statuses = ["active"] * 14 + ["trialing", "past_due", "canceled", "unpaid", "paused", "incomplete"]
    with cur.copy("COPY stripe.subscription (id, object, customer_id, status, created, start_date, "
                  "current_period_start, current_period_end, cancel_at_period_end, trial_end, canceled_at, "
                  "ended_at, livemode) FROM STDIN") as copy:
        for i, n in subs:
            start = now - timedelta(days=(i * 7 + n) % 700)
            status = statuses[(i + n) % len(statuses)]
            ended = start + timedelta(days=(i % 300) + 1) if status == "canceled" else None
            copy.write_row((f"sub_{v}_{i}_{n}", "subscription", f"cus_{v}_{i}", status, start, start,
                            now - timedelta(days=i % 30), now + timedelta(days=30 - i % 30), i % 17 == 0,
                            now + timedelta(days=i % 20) if status == "trialing" else None, ended, ended, False))
    with cur.copy("COPY stripe.subscription_item (id, object, subscription_id, price_id, quantity, created, "
                  "deleted) FROM STDIN") as copy:
        for i, n in subs:
            copy.write_row((f"si_{v}_{i}_{n}", "subscription_item", f"sub_{v}_{i}_{n}",
                            prices[(i + n) % len(prices)][0], 1 + i % 3, now, False))
    with cur.copy("COPY stripe.invoice (id, object, customer_id, subscription_id, status, paid, amount_due, "
                  "amount_paid, amount_remaining, total, currency, number, created, livemode, deleted) "
                  "FROM STDIN") as copy:
        for i in chunk:
            price = prices[i % len(prices)]
            for k in range(3):
                open_ = k == 0 and statuses[i % len(statuses)] in ("past_due", "unpaid")
                copy.write_row((f"in_{v}_{i}_{k}", "invoice", f"cus_{v}_{i}", f"sub_{v}_{i}_0",
                                "open" if open_ else "paid", not open_, price[3], 0 if open_ else price[3],
                                price[3] if open_ else 0, price[3], price[2], f"VOL-{i}-{k}",
                                now - timedelta(days=30 * k), False, False))


@click.command("demo")
@with_appcontext
@click.option("--customers", type=click.IntRange(min=0), default=0,
              help="Also generate this many customers (COPY-based, with a progress bar).")
def demo_command(customers: int) -> None:
    """Load demo users and a demo Stripe mirror (local databases only)."""
    conninfo = current_app.config["DATABASE_URL"]
    try:
        accounts = load_demo(conninfo)
        if customers:
            with click.progressbar(length=customers, label=f"Loading {customers} customers") as bar:
                load_volume(conninfo, customers, progress=bar.update)
    except psycopg.errors.UndefinedTable:
        raise DemoError("the database has no schema: run `flask db init --mirror`") from None
    except psycopg.OperationalError as exc:
        raise DemoError(f"cannot reach the database: {str(exc).splitlines()[0]}") from None
    click.echo(f"Demo data loaded. Sign in at {current_app.config['SITE_URL']}/login "
               f"with password {DEMO_PASSWORD!r} as:")
    for account in accounts:
        click.echo(f"  {account.email:<22} {account.story}")

"""A user's billing state, read from the mirror and put in words.

``account_summary`` is the one place that decides what the account page and
``GET /api/billing/summary`` say: which customer, which subscriptions, which
date matters for each, which card, which invoices.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from itertools import groupby

import psycopg
from babel.dates import format_date

from billing_app.mirror import live_items_and_recent_invoices
from billing_app.mirror.customers import customer_for_user
from billing_app.mirror.payment_methods import payment_methods_by_id
from billing_app.money import format_money

STATUS_WORDS = {
    "active": "Active",
    "trialing": "Free trial",
    "past_due": "Past due",
    "unpaid": "Unpaid",
    "incomplete": "Incomplete",
    "paused": "Paused",
    "canceled": "Canceled",
}
STATUS_TONE = {"active": "ok", "trialing": "ok", "past_due": "bad", "unpaid": "bad", "incomplete": "warn",
               "paused": "warn", "canceled": "warn"}
INVOICE_STATUS_WORDS = {"paid": "Paid", "open": "Due", "draft": "Draft", "void": "Void",
                        "uncollectible": "Uncollectible"}

PAYMENT_FAILED = "Payment failed - update your card"


def long_date(value: datetime | None) -> str:
    return _long_date(value.date()) if value else ""


@lru_cache(maxsize=4096)
def _long_date(day: date) -> str:
    return format_date(day, format="long", locale="en_US")


def interval_words(interval: str | None, count: int | None) -> str:
    """("month", 1) -> "per month"; ("month", 3) -> "every 3 months"; None -> "one time"."""
    if not interval:
        return "one time"
    count = count or 1
    return f"per {interval}" if count == 1 else f"every {count} {interval}s"


@dataclass
class LineItem:
    product: str
    nickname: str | None
    price_id: str | None
    quantity: int
    unit_amount: str
    amount: str
    interval: str
    note: str | None = None


@dataclass
class SubscriptionView:
    id: str
    status: str
    status_label: str
    tone: str
    date_line: str
    period_end: str | None
    cancel_at_period_end: bool
    items: list[LineItem]
    can_update_payment_method: bool
    can_change_plan: bool
    can_cancel: bool


@dataclass
class CardView:
    id: str
    brand: str
    last4: str
    expires: str
    expired: bool

    @property
    def label(self) -> str:
        return f"{self.brand} •••• {self.last4}"


@dataclass
class InvoiceView:
    id: str
    number: str
    date: str
    amount: str
    status: str
    status_label: str
    hosted_invoice_url: str | None
    invoice_pdf: str | None


@dataclass
class AccountSummary:
    customer_id: str | None
    subscriptions: list[SubscriptionView] = field(default_factory=list)
    card: CardView | None = None
    invoices: list[InvoiceView] = field(default_factory=list)

    @property
    def on_free_plan(self) -> bool:
        return not self.subscriptions

    def as_json(self) -> dict:
        body = {
            "customer": self.customer_id,
            "plan": "free" if self.on_free_plan else "subscribed",
            "subscriptions": [asdict(s) for s in self.subscriptions],
            "payment_method": asdict(self.card) if self.card else None,
            "invoices": [asdict(i) for i in self.invoices],
        }
        canonical = json.dumps(body, sort_keys=True, default=str).encode()
        body["fingerprint"] = hashlib.sha256(canonical).hexdigest()[:16]
        return body


def date_line(row: dict) -> str:
    """The one date that matters for a subscription, in words."""
    status = row["status"]
    if status in ("past_due", "unpaid"):
        return PAYMENT_FAILED
    if status != "canceled" and (row["cancel_at_period_end"] or row["cancel_at"]):
        return f"Cancels on {long_date(row['cancel_at'] or row['period_end'])}"
    if status == "trialing" and row["trial_end"]:
        return f"Trial ends on {long_date(row['trial_end'])}"
    if status == "canceled":
        return f"Canceled - access until {long_date(row['period_end'])}"
    if status == "paused":
        resumes = row["pause_collection_resumes_at"]
        return f"Paused - resumes on {long_date(resumes)}" if resumes else "Paused"
    if status == "incomplete":
        return "Waiting for the first payment"
    if row["period_end"]:
        return f"Renews on {long_date(row['period_end'])}"
    return "Renewal date not known yet"


def line_item(row: dict) -> LineItem:
    quantity = row["quantity"] or 1
    if row["price_id"] is None:
        return LineItem(product="Unknown plan", nickname=None, price_id=None, quantity=quantity,
                        unit_amount="—", amount="—", interval="",
                        note="The details of this plan are not available right now.")
    unit = row["unit_amount"]
    note = None
    if row["price_deleted"] or row["product_deleted"]:
        note = "This plan is no longer offered."
    return LineItem(
        product=row["product_name"] or "Unnamed plan",
        nickname=row["nickname"],
        price_id=row["price_id"],
        quantity=quantity,
        unit_amount=format_money(unit, row["currency"]),
        amount=format_money(unit * quantity if unit is not None else None, row["currency"]),
        interval=interval_words(row["recurring_interval"], row["recurring_interval_count"]),
        note=note,
    )


def subscription_view(rows: list[dict]) -> SubscriptionView:
    first = rows[0]
    status = first["status"]
    scheduled_to_end = bool(first["cancel_at_period_end"] or first["cancel_at"])
    return SubscriptionView(
        id=first["subscription_id"],
        status=status,
        status_label=STATUS_WORDS.get(status, status.replace("_", " ").capitalize()),
        tone=STATUS_TONE.get(status, "warn"),
        date_line=date_line(first),
        period_end=first["period_end"].isoformat() if first["period_end"] else None,
        cancel_at_period_end=bool(first["cancel_at_period_end"]),
        items=[line_item(row) for row in rows if row["item_id"] is not None],
        can_update_payment_method=status != "canceled",
        can_change_plan=status in ("active", "trialing", "past_due") and not scheduled_to_end,
        can_cancel=status in ("active", "trialing", "past_due", "unpaid", "paused") and not scheduled_to_end,
    )


def card_view(row: dict, today: datetime) -> CardView:
    month, year = row["card_exp_month"], row["card_exp_year"]
    expired = bool(year and month and (year, month) < (today.year, today.month))
    return CardView(id=row["id"], brand=(row["card_brand"] or row["type"] or "card").title(),
                    last4=row["card_last4"] or "????",
                    expires=f"{month:02d}/{year}" if month and year else "", expired=expired)


def invoice_view(row: dict) -> InvoiceView:
    status = row["status"] or ""
    return InvoiceView(id=row["id"], number=row["number"] or row["id"], date=long_date(row["created"]),
                       amount=format_money(row["total"] if row["total"] is not None else row["amount_due"],
                                           row["currency"]),
                       status=status, status_label=INVOICE_STATUS_WORDS.get(status, status.capitalize()),
                       hosted_invoice_url=row["hosted_invoice_url"], invoice_pdf=row["invoice_pdf"])


def account_summary(conn: psycopg.Connection, user_id: str, *, user_key: str = "user_id") -> AccountSummary:
    """Everything the account page shows for ``user_id``, from the mirror only (see customer_for_user)."""
    customer = customer_for_user(conn, user_id, user_key=user_key)
    if customer is None:
        return AccountSummary(customer_id=None)
    rows, invoices = live_items_and_recent_invoices(conn, customer["id"])
    subscriptions = [subscription_view(list(group))
                     for _, group in groupby(rows, key=lambda r: r["subscription_id"])]
    # the customer's default card (joined to the customer row), else the newest subscription's own
    card_row = None
    if customer["card_id"]:
        card_row = {"id": customer["card_id"], "type": customer["card_type"],
                    **{k: customer[k] for k in ("card_brand", "card_last4", "card_exp_month", "card_exp_year")}}
    else:
        candidates = list(dict.fromkeys(r["default_payment_method_id"] for r in rows
                                        if r["default_payment_method_id"]))
        cards = payment_methods_by_id(conn, candidates)
        card_row = next((cards[c] for c in candidates if c in cards), None)
    today = datetime.now(timezone.utc)
    return AccountSummary(
        customer_id=customer["id"],
        subscriptions=subscriptions,
        card=card_view(card_row, today) if card_row else None,
        invoices=[invoice_view(row) for row in invoices],
    )

"""A user's billing state, read from the mirror and put in words.

``account_summary`` (``summary_of`` for rows already read) is the one place that
decides what the account page and ``GET /api/billing/summary`` say: which customer, which subscriptions, which
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

from billing_app.mirror import AccountRows, account_rows
from billing_app.mirror.subscription_actions import (PlanChoice, SubscriptionActions, plan_choice,
                                                     scheduled_to_end, subscription_actions)
from billing_app.money import format_money, interval_words

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


@dataclass(frozen=True)
class PortalButton:
    """A button on the account page that opens the Customer Portal, on ``flow`` for its subscription."""
    label: str
    name: str                       # what a screen reader says: the action and the subscription
    flow: str | None = None         # a portal deep link (portal.flows); None: the portal's home
    primary: bool = False           # the one thing to do now (resume), drawn as a full button


@dataclass
class SubscriptionView:
    id: str
    name: str                       # its products' names ("Pro", "Pro and Extra seats")
    status: str
    status_label: str
    tone: str
    date_line: str
    period_end: str | None
    cancel_at_period_end: bool
    items: list[LineItem]
    actions: SubscriptionActions
    pay_url: str | None = None      # the open invoice's hosted page, when there is one to pay
    amount_owed: str | None = None

    @property
    def portal_buttons(self) -> list[PortalButton]:
        """Its buttons to the Customer Portal, in the page's order, after its links (pay, subscribe
        again).  A property, so the JSON summary (as_json: asdict) leaves it out."""
        actions, name = self.actions, self.name
        buttons = [PortalButton("Resume subscription", f"Resume {name}", primary=True)] if actions.resume else []
        if actions.update_payment_method:
            buttons.append(PortalButton("Update payment method", f"Update payment method for {name}",
                                        "payment_method_update"))
        if actions.change_plan:
            buttons.append(PortalButton("Change plan", f"Change plan for {name}", "subscription_update"))
        if actions.cancel:
            buttons.append(PortalButton("Cancel subscription", f"Cancel {name}", "subscription_cancel"))
        return buttons


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
class EndedPlan:
    """The customer's last subscription, over ("Your Pro plan ended on March 5, 2031")."""
    subscription_id: str
    product: str | None
    ended_on: str

    @property
    def line(self) -> str:
        plan = f"Your {self.product} plan" if self.product else "Your plan"
        return f"{plan} ended on {self.ended_on}" if self.ended_on else f"{plan} has ended"


@dataclass
class AccountSummary:
    customer_id: str | None
    subscriptions: list[SubscriptionView] = field(default_factory=list)
    card: CardView | None = None
    invoices: list[InvoiceView] = field(default_factory=list)
    ended: EndedPlan | None = None    # shown when no subscription is live
    plan_choice: PlanChoice = PlanChoice("subscribe")

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
            "ended": {**asdict(self.ended), "line": self.ended.line} if self.ended else None,
            "choosing_a_plan": asdict(self.plan_choice),
        }
        canonical = json.dumps(body, sort_keys=True, default=str).encode()
        body["fingerprint"] = hashlib.sha256(canonical).hexdigest()[:16]
        return body


def date_line(row: dict, then: str | None = None) -> str:
    """The one date that matters for a subscription, in words (``then``: what a trial costs after it)."""
    status = row["status"]
    if status in ("past_due", "unpaid"):
        owed = format_money(row["amount_owed"], row["owed_currency"]) if row["amount_owed"] else None
        return f"Payment failed - {owed} is due" if owed and row["pay_url"] else PAYMENT_FAILED
    if scheduled_to_end(row):
        return f"Ends on {long_date(row['cancel_at'] or row['period_end'])}"
    if status == "trialing" and row["trial_end"]:
        ends = f"Trial ends on {long_date(row['trial_end'])}"
        return f"{ends}, then {then}" if then else ends
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


def recurring_total(rows: list[dict]) -> str | None:
    """"$49.00 per month": what the subscription's items cost together, when they share a currency
    and an interval (else None)."""
    priced = [row for row in rows if row["item_id"] is not None and row["unit_amount"] is not None]
    kinds = {(row["currency"], row["recurring_interval"], row["recurring_interval_count"]) for row in priced}
    if not priced or len(kinds) != 1 or len(priced) != sum(row["item_id"] is not None for row in rows):
        return None
    currency, interval, count = kinds.pop()
    total = sum(row["unit_amount"] * (row["quantity"] or 1) for row in priced)
    return f"{format_money(total, currency)} {interval_words(interval, count)}"


def subscription_name(items: list[LineItem]) -> str:
    """What the customer calls a subscription: "Pro", "Pro and Extra seats", "Pro and 2 more"."""
    names = list(dict.fromkeys(item.product for item in items))
    if not names:
        return "your subscription"
    return " and ".join(names) if len(names) < 3 else f"{names[0]} and {len(names) - 1} more"


def subscription_view(rows: list[dict]) -> SubscriptionView:
    first = rows[0]
    status = first["status"]
    actions = subscription_actions(first)
    items = [line_item(row) for row in rows if row["item_id"] is not None]
    return SubscriptionView(
        id=first["subscription_id"],
        name=subscription_name(items),
        status=status,
        status_label=STATUS_WORDS.get(status, status.replace("_", " ").capitalize()),
        tone=STATUS_TONE.get(status, "warn"),
        date_line=date_line(first, recurring_total(rows) if status == "trialing" else None),
        period_end=first["period_end"].isoformat() if first["period_end"] else None,
        cancel_at_period_end=bool(first["cancel_at_period_end"]),
        items=items,
        actions=actions,
        pay_url=first["pay_url"] if actions.pay else None,
        amount_owed=format_money(first["amount_owed"], first["owed_currency"]) if actions.pay else None,
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
    """Everything the account page shows for ``user_id``, from the mirror only (one statement:
    mirror.account_rows; the customer as customer_for_user finds it)."""
    return summary_of(account_rows(conn, user_id, user_key=user_key))


def summary_of(found: AccountRows | None) -> AccountSummary:
    """The account page's words for the rows mirror.account_rows read (None: no customer)."""
    if found is None:
        return AccountSummary(customer_id=None)
    customer, rows, ended = found.customer, found.items, found.ended
    subscriptions = [subscription_view(list(group))
                     for _, group in groupby(rows, key=lambda r: r["subscription_id"])]
    # the customer's default card (joined to the customer row), else the newest subscription's own
    card_row = found.subscription_card
    if customer["card_id"]:
        card_row = {"id": customer["card_id"], "type": customer["card_type"],
                    **{k: customer[k] for k in ("card_brand", "card_last4", "card_exp_month", "card_exp_year")}}
    today = datetime.now(timezone.utc)
    return AccountSummary(
        customer_id=customer["id"],
        subscriptions=subscriptions,
        card=card_view(card_row, today) if card_row else None,
        invoices=[invoice_view(row) for row in found.invoices],
        ended=None if subscriptions or ended is None else EndedPlan(
            subscription_id=ended["subscription_id"], product=ended["product_name"],
            ended_on=long_date(ended["ended_on"])),
        plan_choice=plan_choice(rows),
    )

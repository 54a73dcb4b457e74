"""Stripe API objects as Stripe sends them (API version 2025-10-29.clover), for the demo, the benchmark and the tests.

Each function returns the object a webhook event or an API call would carry:
the billing period on the subscription items (not on the subscription), the
invoice's subscription under ``parent.subscription_details``, no
``invoice.paid``.  Times are naive UTC datetimes here, epoch seconds in the
objects.  ``billing_app.demo.shapes`` writes them in each mirror source's shape.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Any

API_VERSION = "2025-10-29.clover"
_MISSING: Any = object()


def epoch(value: datetime | None) -> int | None:
    return None if value is None else calendar.timegm(value.timetuple())


def product(id, *, now: datetime, name, active=True, description=None, metadata=None, created=None,
            livemode=False, default_price=None):
    created = epoch(created or now)
    return {"id": id, "object": "product", "active": active, "created": created, "default_price": default_price,
            "description": description, "images": [], "livemode": livemode, "marketing_features": [],
            "metadata": metadata or {}, "name": name, "package_dimensions": None, "shippable": None,
            "statement_descriptor": None, "tax_code": None, "unit_label": None, "updated": created,
            "url": None}


def price(id, *, now: datetime, product_id, currency, unit_amount, interval, interval_count, nickname,
          active=True, recurring_usage_type="licensed", created=None, metadata=None, livemode=False):
    recurring = None
    if interval:
        recurring = {"interval": interval, "interval_count": interval_count or 1, "meter": None,
                     "trial_period_days": None, "usage_type": recurring_usage_type or "licensed"}
    return {"id": id, "object": "price", "active": active, "billing_scheme": "per_unit",
            "created": epoch(created or now), "currency": currency, "custom_unit_amount": None,
            "livemode": livemode, "lookup_key": None, "metadata": metadata or {}, "nickname": nickname,
            "product": product_id, "recurring": recurring, "tax_behavior": "unspecified",
            "tiers_mode": None, "transform_quantity": None, "type": "recurring" if interval else "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": None if unit_amount is None else str(unit_amount)}


def customer(id, *, now: datetime, user_id, email, metadata=_MISSING, created=None, livemode=False, name=None,
             default_payment_method=None, currency=None):
    if metadata is _MISSING:
        metadata = {"user_id": str(user_id)} if user_id is not None else {}
    return {"id": id, "object": "customer", "address": None, "balance": 0, "created": epoch(created or now),
            "currency": currency, "default_source": None, "delinquent": False, "description": None,
            "discount": None, "email": email, "invoice_prefix": id.upper()[-8:],
            "invoice_settings": {"custom_fields": None, "default_payment_method": default_payment_method,
                                 "footer": None, "rendering_options": None},
            "livemode": livemode, "metadata": metadata, "name": name, "next_invoice_sequence": 1,
            "phone": None, "preferred_locales": [], "shipping": None, "tax_exempt": "none",
            "test_clock": None}


def payment_method(id, *, now: datetime, customer_id, brand, last4, exp_month, exp_year, created=None,
                   livemode=False):
    return {"id": id, "object": "payment_method", "allow_redisplay": "unspecified",
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {"brand": brand, "country": "US", "display_brand": brand, "exp_month": exp_month,
                     "exp_year": exp_year, "fingerprint": f"fp_{id}", "funding": "credit", "last4": last4,
                     "wallet": None},
            "created": epoch(created or now), "customer": customer_id, "livemode": livemode,
            "metadata": {}, "type": "card"}


def subscription(id, *, now: datetime, customer_id, status, items: list[tuple[dict, int]], created=_MISSING,
                 start_date=None, current_period_start=_MISSING, current_period_end=_MISSING, cancel_at_period_end=False,
                 cancel_at=None, canceled_at=None, ended_at=None, trial_start=None, trial_end=None,
                 default_payment_method_id=None, latest_invoice=None, pause_collection_resumes_at=None,
                 metadata=None, livemode=False, period_on_subscription=False):
    """A subscription with its items; ``period_on_subscription`` adds current_period_* to the subscription
    itself, as API versions before 2025-03-31 did."""
    created = now - timedelta(days=10) if created is _MISSING else created
    period_start = now - timedelta(days=10) if current_period_start is _MISSING else current_period_start
    period_end = now + timedelta(days=20) if current_period_end is _MISSING else current_period_end
    item_objects = []
    for n, (price, quantity) in enumerate(items, start=1):
        item_objects.append({
            "id": f"si_{id}_{n}", "object": "subscription_item", "created": epoch(created),
            "current_period_end": epoch(period_end), "current_period_start": epoch(period_start),
            "discounts": [], "metadata": {}, "price": price, "quantity": quantity, "subscription": id,
            "tax_rates": []})
    pause = None
    if pause_collection_resumes_at is not None or status == "paused":
        pause = {"behavior": "void", "resumes_at": epoch(pause_collection_resumes_at)}
    subscription = {"id": id, "object": "subscription", "automatic_tax": {"enabled": False, "liability": None},
            "billing_cycle_anchor": epoch(period_start), "cancel_at": epoch(cancel_at),
            "cancel_at_period_end": cancel_at_period_end, "canceled_at": epoch(canceled_at),
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically", "created": epoch(created),
            "currency": (item_objects[0]["price"].get("currency") if item_objects else None) or "usd",
            "customer": customer_id, "days_until_due": None, "default_payment_method": default_payment_method_id,
            "default_source": None, "description": None, "discounts": [], "ended_at": epoch(ended_at),
            "items": {"object": "list", "data": item_objects, "has_more": False,
                      "total_count": len(item_objects), "url": f"/v1/subscription_items?subscription={id}"},
            "latest_invoice": latest_invoice, "livemode": livemode, "metadata": metadata or {},
            "pause_collection": pause, "pending_setup_intent": None, "pending_update": None, "schedule": None,
            "start_date": epoch(start_date or created), "status": status, "test_clock": None,
            "trial_end": epoch(trial_end), "trial_start": epoch(trial_start)}
    if period_on_subscription:
        subscription.update(current_period_start=epoch(period_start), current_period_end=epoch(period_end))
    return subscription


def invoice(id, *, now: datetime, customer_id, subscription_id, amount, currency, status, created=None,
            amount_remaining=None, amount_paid=None, subtotal=None, total=None, number=None,
            hosted_invoice_url=_MISSING, invoice_pdf=_MISSING, period_start=None, period_end=None,
            due_date=None, livemode=False, metadata=None, lines: list[dict] | None = None):
    """An invoice; ``lines`` (amount, quantity, subscription_item or invoice_item, price) default to one
    line of ``amount``."""
    created = epoch(created or now)
    paid = status == "paid"
    parent = None
    line_parent = None
    if subscription_id:
        parent = {"type": "subscription_details", "quote_details": None,
                  "subscription_details": {"metadata": {}, "subscription": subscription_id}}
        line_parent = {"type": "subscription_item_details", "invoice_item_details": None,
                       "subscription_item_details": {"invoice_item": None, "proration": False,
                                                     "proration_details": {"credited_items": None},
                                                     "subscription": subscription_id,
                                                     "subscription_item": f"si_{subscription_id}_1"}}
    if lines is None:  # one line for the whole amount
        lines = [{"amount": amount, "quantity": 1, "subscription_item": f"si_{subscription_id}_1", "price": None}]
    line_objects = []
    for n, spec in enumerate(lines, start=1):
        parent_of_line = None
        if line_parent and spec.get("invoice_item"):  # a one-off item or a proration, billed with the subscription
            parent_of_line = {"type": "invoice_item_details", "subscription_item_details": None,
                              "invoice_item_details": {"invoice_item": spec["invoice_item"], "proration": True,
                                                       "proration_details": {"credited_items": None},
                                                       "subscription": subscription_id}}
        elif line_parent:
            parent_of_line = {**line_parent, "subscription_item_details": {
                **line_parent["subscription_item_details"], "subscription_item": spec["subscription_item"]}}
        line_objects.append({
            "id": f"il_{id}_{n}", "object": "line_item", "amount": spec["amount"], "currency": currency,
            "description": None, "discount_amounts": [], "discountable": True, "discounts": [], "invoice": id,
            "livemode": livemode, "metadata": {}, "parent": parent_of_line,
            "period": {"end": epoch(period_end) or created, "start": epoch(period_start) or created},
            "pretax_credit_amounts": [],
            "pricing": ({"type": "price_details", "price_details": {"price": spec["price"], "product": None},
                         "unit_amount_decimal": str(spec["amount"] // max(spec["quantity"], 1))}
                        if spec.get("price") else None),
            "quantity": spec["quantity"], "taxes": []})
    return {"id": id, "object": "invoice", "account_country": "US", "account_name": "Example Inc.",
            "amount_due": amount, "amount_overpaid": 0,
            "amount_paid": amount_paid if amount_paid is not None else (amount if paid else 0),
            "amount_remaining": amount_remaining if amount_remaining is not None else (0 if paid else amount),
            "attempt_count": 1, "attempted": status != "draft", "auto_advance": status == "draft",
            "billing_reason": "subscription_cycle" if subscription_id else "manual",
            "collection_method": "charge_automatically", "created": created, "currency": currency,
            "customer": customer_id, "customer_email": None, "description": None, "discounts": [],
            "due_date": epoch(due_date), "ending_balance": 0, "footer": None,
            "hosted_invoice_url": (f"https://invoice.stripe.com/i/{id}" if hosted_invoice_url is _MISSING
                                   else hosted_invoice_url),
            "invoice_pdf": f"https://pay.stripe.com/invoice/{id}/pdf" if invoice_pdf is _MISSING else invoice_pdf,
            "lines": {"object": "list", "data": line_objects, "has_more": False, "total_count": len(line_objects),
                      "url": f"/v1/invoices/{id}/lines"},
            "livemode": livemode, "metadata": metadata or {}, "number": number or f"NUM-{id}",
            "parent": parent, "period_end": epoch(period_end) or created, "period_start": epoch(period_start) or created,
            "starting_balance": 0, "status": status,
            "status_transitions": {"finalized_at": None if status == "draft" else created,
                                   "marked_uncollectible_at": None, "paid_at": created if paid else None,
                                   "voided_at": None},
            "subtotal": subtotal if subtotal is not None else amount,
            "total": total if total is not None else amount}

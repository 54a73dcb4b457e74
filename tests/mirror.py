"""Writes rows into the stripe.* mirror the way the sync service would, for tests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg import sql


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class Mirror:
    """Inserts Stripe objects with sensible defaults; every column can be overridden."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.now = utcnow()

    def insert(self, table: str, **row: Any) -> dict[str, Any]:
        row = {k: (json.dumps(v) if k == "metadata" else v) for k, v in row.items()}
        self.conn.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier("stripe", table),
                sql.SQL(", ").join(map(sql.Identifier, row)),
                sql.SQL(", ").join(sql.Placeholder() * len(row))),
            list(row.values()))
        return row

    def product(self, id="prod_pro", name="Pro", **kw):
        return self.insert("product", **{"id": id, "object": "product", "name": name, "active": True,
                                         "deleted": False, "created": self.now, "metadata": {}, **kw})

    def price(self, id="price_pro_monthly", product_id="prod_pro", *, currency="usd", unit_amount=2900,
              interval="month", interval_count=1, nickname="Pro monthly", **kw):
        return self.insert("price", **{
            "id": id, "object": "price", "product_id": product_id, "active": True, "currency": currency,
            "unit_amount": unit_amount, "type": "recurring" if interval else "one_time",
            "recurring_interval": interval, "recurring_interval_count": interval_count if interval else None,
            "recurring_usage_type": "licensed" if interval else None, "nickname": nickname,
            "created": self.now, "metadata": {}, "deleted": False, **kw})

    def customer(self, id="cus_1", user_id=None, *, email="customer@example.com", **kw):
        metadata = kw.pop("metadata", {"user_id": str(user_id)} if user_id is not None else {})
        return self.insert("customer", **{"id": id, "object": "customer", "email": email, "created": self.now,
                                          "livemode": False, "deleted": False, "metadata": metadata, **kw})

    def payment_method(self, id="pm_1", customer_id="cus_1", *, brand="visa", last4="4242",
                       exp_month=12, exp_year=None, **kw):
        return self.insert("payment_method", **{
            "id": id, "object": "payment_method", "customer_id": customer_id, "type": "card",
            "card_brand": brand, "card_last4": last4, "card_exp_month": exp_month,
            "card_exp_year": exp_year or self.now.year + 2, "created": self.now, "metadata": {}, **kw})

    def subscription(self, id="sub_1", customer_id="cus_1", *, status="active",
                     items=(("price_pro_monthly", 1),), **kw):
        row = self.insert("subscription", **{
            "id": id, "object": "subscription", "customer_id": customer_id, "status": status,
            "created": self.now - timedelta(days=10), "start_date": self.now - timedelta(days=10),
            "current_period_start": self.now - timedelta(days=10),
            "current_period_end": self.now + timedelta(days=20), "cancel_at_period_end": False,
            "livemode": False, "metadata": {}, **kw})
        for n, (price_id, quantity) in enumerate(items, start=1):
            self.insert("subscription_item", id=f"si_{id}_{n}", object="subscription_item",
                        subscription_id=id, price_id=price_id, quantity=quantity, created=row["created"],
                        metadata={}, deleted=False)
        return row

    def invoice(self, id="in_1", customer_id="cus_1", *, subscription_id=None, amount=2900, currency="usd",
                status="paid", created=None, **kw):
        return self.insert("invoice", **{
            "id": id, "object": "invoice", "customer_id": customer_id, "subscription_id": subscription_id,
            "status": status, "paid": status == "paid", "amount_due": amount,
            "amount_paid": amount if status == "paid" else 0, "total": amount, "currency": currency,
            "number": f"NUM-{id}", "hosted_invoice_url": f"https://invoice.stripe.com/i/{id}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/{id}/pdf", "created": created or self.now,
            "metadata": {}, "deleted": False, **kw})

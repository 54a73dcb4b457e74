"""Fills the mirror the way each sync service does, for tests.

Tests describe Stripe objects through ``Mirror`` (``mirror.customer(...)``,
``mirror.subscription(...)``); ``Mirror`` builds each as the Stripe API
object of the current API version (the billing period on the items, the
invoice's subscription under ``parent``, no ``invoice.paid``) and hands it to
the writer of the database's source:

* ``SequinWriter`` flattens it into Sequin's singular tables, as Sequin's sync
  did (see ../shared/SEQUIN_SCHEMA.md).
* ``EngineWriter`` sends it as a signed webhook event to the real
  stripe-sync-engine (tests/engines/feed.mjs), which writes its own tables.

Times are naive UTC datetimes here and epoch seconds in the Stripe objects.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import subprocess
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg import sql

API_VERSION = "2025-10-29.clover"
_MISSING = object()


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def epoch(value: datetime | None) -> int | None:
    return None if value is None else calendar.timegm(value.timetuple())


class Mirror:
    """Creates, updates and deletes Stripe objects in the mirror; every field can be overridden."""

    def __init__(self, writer) -> None:
        self.writer = writer
        self.conn = writer.conn
        self.now = utcnow()
        self._made: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, id) -> the arguments it was made with
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, id) -> the Stripe object

    @property
    def source(self) -> str:
        return self.writer.source

    # --- the objects ---------------------------------------------------------

    def product(self, id="prod_pro", name="Pro", **kw):
        return self._put("product", id, name=name, **kw)

    def price(self, id="price_pro_monthly", product_id="prod_pro", *, currency="usd", unit_amount=2900,
              interval="month", interval_count=1, nickname="Pro monthly", **kw):
        return self._put("price", id, product_id=product_id, currency=currency, unit_amount=unit_amount,
                         interval=interval, interval_count=interval_count, nickname=nickname, **kw)

    def customer(self, id="cus_1", user_id=None, *, email="customer@example.com", **kw):
        return self._put("customer", id, user_id=user_id, email=email, **kw)

    def payment_method(self, id="pm_1", customer_id="cus_1", *, brand="visa", last4="4242",
                       exp_month=12, exp_year=None, **kw):
        return self._put("payment_method", id, customer_id=customer_id, brand=brand, last4=last4,
                         exp_month=exp_month, exp_year=exp_year or self.now.year + 2, **kw)

    def subscription(self, id="sub_1", customer_id="cus_1", *, status="active",
                     items=(("price_pro_monthly", 1),), **kw):
        return self._put("subscription", id, customer_id=customer_id, status=status, items=list(items), **kw)

    def invoice(self, id="in_1", customer_id="cus_1", *, subscription_id=None, amount=2900, currency="usd",
                status="paid", created=None, **kw):
        return self._put("invoice", id, customer_id=customer_id, subscription_id=subscription_id, amount=amount,
                         currency=currency, status=status, created=created, **kw)

    def update(self, kind: str, id: str, **changes):
        """The object changed in Stripe: its new state reaches the mirror (an ``*.updated`` event)."""
        return self._put(kind, id, **{**self._made[(kind, id)], **changes})

    def delete(self, kind: str, id: str) -> None:
        """The object was deleted in Stripe (a ``*.deleted`` event)."""
        self.writer.delete(kind, self.objects[(kind, id)])

    def _put(self, kind: str, id: str, *, deleted: bool = False, **kw) -> dict[str, Any]:
        created_before = (kind, id) in self.objects
        self._made[(kind, id)] = kw
        obj = getattr(self, f"_{kind}_object")(id, **kw)
        self.objects[(kind, id)] = obj
        self.writer.put(kind, obj, created=not created_before)
        if deleted:
            self.writer.delete(kind, obj)
        return obj

    # --- Stripe API objects (current API version) ------------------------------

    def _product_object(self, id, *, name, active=True, description=None, metadata=None, created=None,
                        livemode=False):
        created = epoch(created or self.now)
        return {"id": id, "object": "product", "active": active, "created": created, "default_price": None,
                "description": description, "images": [], "livemode": livemode, "marketing_features": [],
                "metadata": metadata or {}, "name": name, "package_dimensions": None, "shippable": None,
                "statement_descriptor": None, "tax_code": None, "unit_label": None, "updated": created,
                "url": None}

    def _price_object(self, id, *, product_id, currency, unit_amount, interval, interval_count, nickname,
                      active=True, recurring_usage_type="licensed", created=None, metadata=None, livemode=False):
        recurring = None
        if interval:
            recurring = {"interval": interval, "interval_count": interval_count or 1, "meter": None,
                         "trial_period_days": None, "usage_type": recurring_usage_type or "licensed"}
        return {"id": id, "object": "price", "active": active, "billing_scheme": "per_unit",
                "created": epoch(created or self.now), "currency": currency, "custom_unit_amount": None,
                "livemode": livemode, "lookup_key": None, "metadata": metadata or {}, "nickname": nickname,
                "product": product_id, "recurring": recurring, "tax_behavior": "unspecified",
                "tiers_mode": None, "transform_quantity": None, "type": "recurring" if interval else "one_time",
                "unit_amount": unit_amount,
                "unit_amount_decimal": None if unit_amount is None else str(unit_amount)}

    def _customer_object(self, id, *, user_id, email, metadata=_MISSING, created=None, livemode=False, name=None,
                         default_payment_method=None, currency=None):
        if metadata is _MISSING:
            metadata = {"user_id": str(user_id)} if user_id is not None else {}
        return {"id": id, "object": "customer", "address": None, "balance": 0, "created": epoch(created or self.now),
                "currency": currency, "default_source": None, "delinquent": False, "description": None,
                "discount": None, "email": email, "invoice_prefix": id.upper()[-8:],
                "invoice_settings": {"custom_fields": None, "default_payment_method": default_payment_method,
                                     "footer": None, "rendering_options": None},
                "livemode": livemode, "metadata": metadata, "name": name, "next_invoice_sequence": 1,
                "phone": None, "preferred_locales": [], "shipping": None, "tax_exempt": "none",
                "test_clock": None}

    def _payment_method_object(self, id, *, customer_id, brand, last4, exp_month, exp_year, created=None,
                               livemode=False):
        return {"id": id, "object": "payment_method", "allow_redisplay": "unspecified",
                "billing_details": {"address": None, "email": None, "name": None, "phone": None},
                "card": {"brand": brand, "country": "US", "display_brand": brand, "exp_month": exp_month,
                         "exp_year": exp_year, "fingerprint": f"fp_{id}", "funding": "credit", "last4": last4,
                         "wallet": None},
                "created": epoch(created or self.now), "customer": customer_id, "livemode": livemode,
                "metadata": {}, "type": "card"}

    def _subscription_object(self, id, *, customer_id, status, items, created=_MISSING, start_date=None,
                             current_period_start=_MISSING, current_period_end=_MISSING, cancel_at_period_end=False,
                             cancel_at=None, canceled_at=None, ended_at=None, trial_start=None, trial_end=None,
                             default_payment_method_id=None, latest_invoice=None, pause_collection_resumes_at=None,
                             metadata=None, livemode=False):
        created = self.now - timedelta(days=10) if created is _MISSING else created
        period_start = self.now - timedelta(days=10) if current_period_start is _MISSING else current_period_start
        period_end = self.now + timedelta(days=20) if current_period_end is _MISSING else current_period_end
        item_objects = []
        for n, (price_id, quantity) in enumerate(items, start=1):
            price = self.objects.get(("price", price_id)) or {"id": price_id, "object": "price"}
            item_objects.append({
                "id": f"si_{id}_{n}", "object": "subscription_item", "created": epoch(created),
                "current_period_end": epoch(period_end), "current_period_start": epoch(period_start),
                "discounts": [], "metadata": {}, "price": price, "quantity": quantity, "subscription": id,
                "tax_rates": []})
        pause = None
        if pause_collection_resumes_at is not None or status == "paused":
            pause = {"behavior": "void", "resumes_at": epoch(pause_collection_resumes_at)}
        return {"id": id, "object": "subscription", "automatic_tax": {"enabled": False, "liability": None},
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

    def _invoice_object(self, id, *, customer_id, subscription_id, amount, currency, status, created=None,
                        amount_remaining=None, amount_paid=None, subtotal=None, total=None, number=None,
                        hosted_invoice_url=_MISSING, invoice_pdf=_MISSING, period_start=None, period_end=None,
                        due_date=None, livemode=False, metadata=None):
        created = epoch(created or self.now)
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
        line = {"id": f"il_{id}_1", "object": "line_item", "amount": amount, "currency": currency,
                "description": None, "discount_amounts": [], "discountable": True, "discounts": [],
                "invoice": id, "livemode": livemode, "metadata": {}, "parent": line_parent,
                "period": {"end": epoch(period_end) or created, "start": epoch(period_start) or created},
                "pretax_credit_amounts": [], "pricing": None, "quantity": 1, "taxes": []}
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
                "lines": {"object": "list", "data": [line], "has_more": False, "total_count": 1,
                          "url": f"/v1/invoices/{id}/lines"},
                "livemode": livemode, "metadata": metadata or {}, "number": number or f"NUM-{id}",
                "parent": parent, "period_end": epoch(period_end) or created, "period_start": epoch(period_start) or created,
                "starting_balance": 0, "status": status,
                "status_transitions": {"finalized_at": None if status == "draft" else created,
                                       "marked_uncollectible_at": None, "paid_at": created if paid else None,
                                       "voided_at": None},
                "subtotal": subtotal if subtotal is not None else amount,
                "total": total if total is not None else amount}


# --- Sequin ---------------------------------------------------------------------

def _ts(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None)


def sequin_rows(kind: str, obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (table, row) pairs Sequin's sync wrote for a Stripe object: flattened with underscores."""
    m = json.dumps(obj.get("metadata") or {})
    if kind == "product":
        return [("product", dict(id=obj["id"], object="product", name=obj["name"], description=obj["description"],
                                 active=obj["active"], created=_ts(obj["created"]), updated=_ts(obj["updated"]),
                                 livemode=obj["livemode"], metadata=m, deleted=False))]
    if kind == "price":
        recurring = obj["recurring"] or {}
        return [("price", dict(id=obj["id"], object="price", product_id=obj["product"], active=obj["active"],
                               currency=obj["currency"], unit_amount=obj["unit_amount"],
                               unit_amount_decimal=obj["unit_amount_decimal"], type=obj["type"],
                               billing_scheme=obj["billing_scheme"], recurring_interval=recurring.get("interval"),
                               recurring_interval_count=recurring.get("interval_count"),
                               recurring_usage_type=recurring.get("usage_type"), nickname=obj["nickname"],
                               lookup_key=obj["lookup_key"], created=_ts(obj["created"]), livemode=obj["livemode"],
                               metadata=m, deleted=False))]
    if kind == "customer":
        return [("customer", dict(id=obj["id"], object="customer", created=_ts(obj["created"]), email=obj["email"],
                                  name=obj["name"], currency=obj["currency"], delinquent=obj["delinquent"],
                                  balance=obj["balance"], livemode=obj["livemode"], metadata=m, deleted=False,
                                  invoice_settings_default_payment_method_id=obj["invoice_settings"][
                                      "default_payment_method"]))]
    if kind == "payment_method":
        card = obj["card"]
        return [("payment_method", dict(id=obj["id"], object="payment_method", customer_id=obj["customer"],
                                        type=obj["type"], card_brand=card["brand"], card_last4=card["last4"],
                                        card_exp_month=card["exp_month"], card_exp_year=card["exp_year"],
                                        created=_ts(obj["created"]), livemode=obj["livemode"], metadata=m))]
    if kind == "subscription":
        pause = obj["pause_collection"] or {}
        rows = [("subscription", dict(
            id=obj["id"], object="subscription", customer_id=obj["customer"], status=obj["status"],
            created=_ts(obj["created"]), start_date=_ts(obj["start_date"]),
            current_period_start=_ts(obj.get("current_period_start")),
            current_period_end=_ts(obj.get("current_period_end")), cancel_at=_ts(obj["cancel_at"]),
            cancel_at_period_end=obj["cancel_at_period_end"], canceled_at=_ts(obj["canceled_at"]),
            ended_at=_ts(obj["ended_at"]), trial_start=_ts(obj["trial_start"]), trial_end=_ts(obj["trial_end"]),
            collection_method=obj["collection_method"], default_payment_method_id=obj["default_payment_method"],
            latest_invoice_id=obj["latest_invoice"], livemode=obj["livemode"], metadata=m,
            pause_collection_behavior=pause.get("behavior"),
            pause_collection_resumes_at=_ts(pause.get("resumes_at"))))]
        for item in obj["items"]["data"]:
            rows.append(("subscription_item", dict(
                id=item["id"], object="subscription_item", subscription_id=obj["id"], price_id=item["price"]["id"],
                quantity=item["quantity"], created=_ts(item["created"]), metadata="{}", deleted=False,
                current_period_start=_ts(item["current_period_start"]),
                current_period_end=_ts(item["current_period_end"]))))
        return rows
    if kind == "invoice":
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        return [("invoice", dict(
            id=obj["id"], object="invoice", customer_id=obj["customer"], subscription_id=parent.get("subscription"),
            status=obj["status"], paid=obj["status"] == "paid", amount_due=obj["amount_due"],
            amount_paid=obj["amount_paid"], amount_remaining=obj["amount_remaining"], subtotal=obj["subtotal"],
            total=obj["total"], currency=obj["currency"], number=obj["number"],
            hosted_invoice_url=obj["hosted_invoice_url"], invoice_pdf=obj["invoice_pdf"],
            period_start=_ts(obj["period_start"]), period_end=_ts(obj["period_end"]), created=_ts(obj["created"]),
            due_date=_ts(obj["due_date"]), status_transitions_paid_at=_ts(obj["status_transitions"]["paid_at"]),
            livemode=obj["livemode"], metadata=m, deleted=False))]
    raise ValueError(kind)


class SequinWriter:
    """Writes Sequin's rows straight into stripe.* (upserts; a deletion sets deleted = true)."""

    source = "sequin"

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def put(self, kind: str, obj: dict[str, Any], *, created: bool) -> None:
        # as a replication apply does: objects arrive in any order (an item before its price)
        with self.conn.transaction():
            self.conn.execute("SET LOCAL session_replication_role = replica")
            for table, row in sequin_rows(kind, obj):
                self.upsert(table, row)

    def delete(self, kind: str, obj: dict[str, Any]) -> None:
        table = sequin_rows(kind, obj)[0][0]
        self.conn.execute(sql.SQL("UPDATE {} SET deleted = true WHERE id = %s").format(
            sql.Identifier("stripe", table)), (obj["id"],))

    def upsert(self, table: str, row: dict[str, Any]) -> None:
        columns = list(row)
        self.conn.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET ({}) = ROW({})").format(
                sql.Identifier("stripe", table), sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in columns)),
            list(row.values()))


# --- stripe-sync-engine ---------------------------------------------------------

EVENT_PREFIX = {"product": "product", "price": "price", "customer": "customer",
                "payment_method": "payment_method", "subscription": "customer.subscription", "invoice": "invoice"}


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header Stripe sends with a webhook (v1: HMAC-SHA256 of "t.payload")."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class EngineWriter:
    """Sends each object as a signed webhook event to a real stripe-sync-engine (tests/engines/feed.mjs).

    Events are one second apart: both engines ignore an event older than the row they hold.
    """

    def __init__(self, conn: psycopg.Connection, feeder) -> None:
        self.conn = conn
        self.feeder = feeder
        self.source = feeder.source

    def put(self, kind: str, obj: dict[str, Any], *, created: bool) -> None:
        verb = {"payment_method": "attached"}.get(kind, "created") if created else "updated"
        self.feeder.send_event(f"{EVENT_PREFIX[kind]}.{verb}", obj)

    def delete(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "payment_method":
            self.feeder.send_event("payment_method.detached", {**obj, "customer": None})
        elif kind == "subscription":
            self.feeder.send_event("customer.subscription.deleted", {**obj, "status": "canceled"})
        else:
            self.feeder.send_event(f"{EVENT_PREFIX[kind]}.deleted", obj)


class Feeder:
    """One tests/engines/feed.mjs process: a real sync engine writing one database."""

    _clock = 0  # the last event's created time, shared by every feeder of the session

    def __init__(self, process, source: str, secret: str, log=None) -> None:
        self.process = process
        self.log = log
        self.source = source
        self.secret = secret
        self.events = 0

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.source} feeder stopped (exit {self.process.poll()})")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"{self.source} refused {message.get('cmd')}: {answer.get('error')}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call({"cmd": "quit"})
            except (RuntimeError, OSError, ValueError):
                pass
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.log):
            if stream is not None:
                stream.close()

    def send_event(self, event_type: str, obj: dict[str, Any]) -> None:
        Feeder._clock = max(int(time.time()), Feeder._clock + 1)
        self.events += 1
        event = {"id": f"evt_test_{self.events:06d}", "object": "event", "api_version": API_VERSION,
                 "created": Feeder._clock, "data": {"object": obj}, "livemode": bool(obj.get("livemode")),
                 "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": event_type}
        if event_type.endswith(".updated"):
            event["data"]["previous_attributes"] = {}
        payload = json.dumps(event)
        self.call({"cmd": "event", "payload": payload, "signature": sign(payload, self.secret, int(time.time()))})

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

import hashlib
import hmac
import json
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg

from billing_app.demo import stripe_objects as stripe
from billing_app.demo.shapes import ShapeWriter
from billing_app.demo.stripe_objects import API_VERSION


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


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

    def _product_object(self, id, **kw):
        return stripe.product(id, now=self.now, **kw)

    def _price_object(self, id, **kw):
        return stripe.price(id, now=self.now, **kw)

    def _customer_object(self, id, **kw):
        return stripe.customer(id, now=self.now, **kw)

    def _payment_method_object(self, id, **kw):
        return stripe.payment_method(id, now=self.now, **kw)

    def _subscription_object(self, id, *, items, **kw):
        # an item carries its whole price, as Stripe sends it; a price the test never made is just its id
        prices = [(self.objects.get(("price", price_id)) or {"id": price_id, "object": "price"}, quantity)
                  for price_id, quantity in items]
        return stripe.subscription(id, now=self.now, items=prices, **kw)

    def _invoice_object(self, id, **kw):
        return stripe.invoice(id, now=self.now, **kw)


# --- Sequin ---------------------------------------------------------------------

class SequinWriter:
    """Writes Sequin's rows straight into stripe.* (upserts; a deletion sets deleted = true)."""

    source = "sequin"

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.shape = ShapeWriter(conn, "sequin")

    def put(self, kind: str, obj: dict[str, Any], *, created: bool) -> None:
        # as a replication apply does: objects arrive in any order (an item before its price)
        with self.conn.transaction():
            self.conn.execute("SET LOCAL session_replication_role = replica")
            self.shape.write(kind, obj)

    def delete(self, kind: str, obj: dict[str, Any]) -> None:
        with self.conn.transaction():
            self.conn.execute("SET LOCAL session_replication_role = replica")
            self.shape.write(kind, obj, deleted=True)


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
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            try:
                code = self.process.wait(5)
            except subprocess.TimeoutExpired:
                code = "none yet"
            raise RuntimeError(f"the {self.source} feeder stopped (exit {code}); its log ends:\n"
                               f"{self.log_tail()}")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"{self.source} refused {message.get('cmd')}: {answer.get('error')}")
        return answer

    def log_tail(self, lines: int = 20) -> str:
        """The end of what the engine wrote to its log, to say why it stopped."""
        if self.log is None:
            return "(no log)"
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

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

"""Stripe objects written in each mirror source's shape, as its sync service writes them.

Used by `flask demo` and the benchmark's bulk load to fill a local mirror of
any source, and by the tests for Sequin's shape (the engines write their own
shape in the tests: tests/engines).

* Sequin: singular tables, nested fields flattened with underscores, UTC
  timestamps, ``deleted`` flags.
* @supabase/stripe-sync-engine 0.48: plural tables, the object's top-level
  fields that have a column (epochs, jsonb), items in their own table with the
  price as its id, ``last_synced_at``; a deleted price or product has no row.
* @stripe/sync-engine 1.x: the whole object in ``_raw_data`` with
  ``_account_id`` and ``_last_synced_at`` (generated columns fill themselves);
  a deleted price or product has no row.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from billing_app.mirror.source import SOURCES

DEMO_ACCOUNT_ID = "acct_billing_app_demo"


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
    raise ValueError(f"unknown kind {kind!r}")


def _engine_objects(kind: str, obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, object) pairs as the engines store them: a subscription's items apart, each item's price as its id."""
    if kind != "subscription":
        return [(kind, obj)]
    items = [("subscription_item", {**item, "price": item["price"]["id"], "deleted": False})
             for item in obj["items"]["data"]]
    return [("subscription", obj), *items]


class ShapeWriter:
    """Writes Stripe objects into the tables of one source (the database owner's connection).

    Rows are upserted by id.  ``columns`` caches each engine table's columns:
    0.48 stores the object's top-level fields that have a column, nothing else.
    """

    def __init__(self, conn: psycopg.Connection, source: str, *, synced_at: datetime | None = None) -> None:
        self.conn = conn
        self.source = source
        self.synced_at = synced_at or datetime.now(timezone.utc)
        self._columns: dict[str, dict[str, str]] = {}
        self.account_id = ensure_account(conn) if source == "stripe-sync-engine" else None

    def rows(self, kind: str, obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The (table, row) pairs the source holds for ``obj``."""
        if self.source == "sequin":
            return sequin_rows(kind, obj)
        rows = []
        for part_kind, part in _engine_objects(kind, obj):
            table = SOURCES[self.source].table(part_kind)
            if self.source == "stripe-sync-engine":
                rows.append((table, {"_raw_data": Jsonb(part), "_account_id": self.account_id,
                                     "_last_synced_at": self.synced_at}))
            else:
                row = {c: (Jsonb(part[c]) if kind_ == "jsonb" and part[c] is not None else part[c])
                       for c, kind_ in self.columns(table).items() if c in part}
                if table == "customers":
                    row["deleted"] = bool(part.get("deleted"))
                rows.append((table, {**row, "last_synced_at": self.synced_at}))
        return rows

    def columns(self, table: str) -> dict[str, str]:
        """{column: type name} of an engine table's written (not generated) columns."""
        if table not in self._columns:
            self._columns[table] = dict(self.conn.execute(
                "SELECT attname, atttypid::regtype::text FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                (f"stripe.{table}",)).fetchall())
        return self._columns[table]

    def write(self, kind: str, obj: dict[str, Any], *, deleted: bool = False) -> None:
        """``obj`` as the source holds it; ``deleted`` as the sync service records a deletion."""
        if deleted and self.source != "sequin" and kind in ("price", "product"):
            return  # the engines remove the row of a deleted price or product
        for table, row in self.rows(kind, obj):
            if deleted:
                row = _deleted(self.source, row)
            self._upsert(table, row)

    def _upsert(self, table: str, row: dict[str, Any]) -> None:
        columns = list(row)
        self.conn.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET ({}) = ROW({})").format(
                sql.Identifier("stripe", table), sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in columns)),
            list(row.values()))

    def copy(self, kind: str, objects: Iterable[dict[str, Any]]) -> None:
        """Many objects of one kind through COPY (a bulk load; nothing may exist with their ids)."""
        by_table: dict[str, list[dict[str, Any]]] = {}
        for obj in objects:
            for table, row in self.rows(kind, obj):
                by_table.setdefault(table, []).append(row)
        cur = self.conn.cursor()
        for table, rows in by_table.items():
            columns = list(rows[0])
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier("stripe", table), sql.SQL(", ").join(map(sql.Identifier, columns)))
            with cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row([_copy_value(row[c]) for c in columns])


def _deleted(source: str, row: dict[str, Any]) -> dict[str, Any]:
    if source == "stripe-sync-engine":
        return {**row, "_raw_data": Jsonb({**row["_raw_data"].obj, "deleted": True})}
    return {**row, "deleted": True}


def _copy_value(value: Any) -> Any:
    return json.dumps(value.obj) if isinstance(value, Jsonb) else value


def ensure_account(conn: psycopg.Connection) -> str:
    """The Stripe account the 1.x engine's rows belong to: the one it knows, or a demo one."""
    rows = conn.execute("SELECT id FROM stripe.accounts ORDER BY id LIMIT 2").fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if not rows:
        conn.execute("INSERT INTO stripe.accounts (_raw_data) VALUES (%s)",
                     (Jsonb({"id": DEMO_ACCOUNT_ID, "object": "account"}),))
        return DEMO_ACCOUNT_ID
    return next((r[0] for r in rows if r[0] == DEMO_ACCOUNT_ID), rows[0][0])


def delete_rows(conn: psycopg.Connection, source: str, pattern: str) -> None:
    """Remove the rows whose id matches the LIKE ``pattern`` from every table of the source."""
    for kind in ("invoice", "subscription_item", "subscription", "payment_method", "customer", "price", "product"):
        conn.execute(sql.SQL("DELETE FROM {} WHERE id LIKE %s").format(
            sql.Identifier("stripe", SOURCES[source].table(kind))), (pattern,))

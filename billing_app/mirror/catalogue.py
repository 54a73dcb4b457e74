"""The catalogue: products and prices that can be bought."""

from __future__ import annotations

import psycopg

_SUBSCRIBABLE = """p.active AND NOT p.deleted AND p.type = 'recurring'
              AND pr.active AND NOT pr.deleted"""


def active_recurring_prices(conn: psycopg.Connection) -> list[dict]:
    """Prices that can be subscribed to now: active, recurring, not deleted, of an active product."""
    return conn.execute(
        f"""SELECT p.id, p.nickname, p.currency, p.unit_amount, p.recurring_interval,
                  p.recurring_interval_count, pr.id AS product_id, pr.name AS product_name,
                  pr.description AS product_description
             FROM billing_mirror.prices p
             JOIN billing_mirror.products pr ON pr.id = p.product_id
            WHERE {_SUBSCRIBABLE}
            ORDER BY pr.name, pr.id, p.recurring_interval, p.recurring_interval_count, p.unit_amount""").fetchall()


def is_active_recurring_price(conn: psycopg.Connection, price_id: str) -> bool:
    """Whether ``price_id`` can be subscribed to now (see active_recurring_prices)."""
    row = conn.execute(
        f"""SELECT 1 FROM billing_mirror.prices p JOIN billing_mirror.products pr ON pr.id = p.product_id
            WHERE p.id = %s AND {_SUBSCRIBABLE}""", (price_id,)).fetchone()
    return row is not None

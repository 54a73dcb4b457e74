"""The catalogue: products and prices that can be bought."""

from __future__ import annotations

import psycopg

# Product metadata, set in the Stripe Dashboard, that billing_app reads (see plans/offer.py):
KIND_KEY, ADDON = "billing_app_kind", "addon"   # an add-on (extra seats), apart from the plans
SORT_KEY = "billing_app_sort"                    # a product's place among its kind, smaller first


def is_addon(product_metadata: dict | None) -> bool:
    return (product_metadata or {}).get(KIND_KEY) == ADDON


_SUBSCRIBABLE = """p.active AND NOT p.deleted AND p.type = 'recurring'
              AND pr.active AND NOT pr.deleted"""


def active_recurring_prices(conn: psycopg.Connection) -> list[dict]:
    """Prices that can be subscribed to now: active, recurring, not deleted, of an active product."""
    return conn.execute(
        f"""SELECT p.id, p.nickname, p.currency, p.unit_amount, p.recurring_interval,
                  p.recurring_interval_count, pr.id AS product_id, pr.name AS product_name,
                  pr.description AS product_description, pr.metadata AS product_metadata,
                  pr.default_price_id = p.id AS is_default_price
             FROM billing_mirror.prices p
             JOIN billing_mirror.products pr ON pr.id = p.product_id
            WHERE {_SUBSCRIBABLE}
            ORDER BY pr.id, p.unit_amount, p.id""").fetchall()


def subscribable_price(conn: psycopg.Connection, price_id: str) -> dict | None:
    """``price_id`` (id, product_id, currency, product_metadata) when it can be subscribed to now (see
    active_recurring_prices), else None."""
    return conn.execute(
        f"""SELECT p.id, p.product_id, p.currency, pr.metadata AS product_metadata
              FROM billing_mirror.prices p JOIN billing_mirror.products pr ON pr.id = p.product_id
             WHERE p.id = %s AND {_SUBSCRIBABLE}""", (price_id,)).fetchone()

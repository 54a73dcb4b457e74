"""The one read layer over the Stripe mirror.

Every read of Stripe data goes through these modules, one per entity
(customers, subscriptions, catalogue, invoices, payment methods).  Each
function takes the connection first and returns plain rows.  They read the
canonical views in schema ``billing_mirror`` (sql/mirror/), which the source's
adapter (sql/sources/<name>/) maps onto whatever sync service filled schema
``stripe``: callers never know which source is behind them.
"""

from __future__ import annotations

import psycopg

from billing_app.mirror import invoices, subscriptions


def live_items_and_recent_invoices(conn: psycopg.Connection, customer_id: str,
                                   limit: int = 10) -> tuple[list[dict], list[dict]]:
    """subscriptions.live_subscription_items and the customer's last ``limit`` finalized invoices
    (invoices.RECENT_INVOICES), in one round trip (pipeline)."""
    with conn.pipeline():
        items = conn.execute(subscriptions.LIVE_SUBSCRIPTION_ITEMS, subscriptions.live_params(customer_id))
        recent = conn.execute(invoices.RECENT_INVOICES, {"customer_id": customer_id, "limit": limit})
    return items.fetchall(), recent.fetchall()

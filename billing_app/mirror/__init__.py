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


def account_rows(conn: psycopg.Connection, customer_id: str,
                                   limit: int = 10) -> tuple[list[dict], list[dict], dict | None]:
    """subscriptions.live_subscription_items, the customer's last ``limit`` finalized invoices
    (invoices.RECENT_INVOICES) and their last ended subscription (subscriptions.LAST_ENDED_SUBSCRIPTION),
    in one round trip (pipeline)."""
    params = subscriptions.live_params(customer_id)
    with conn.pipeline():
        items = conn.execute(subscriptions.LIVE_SUBSCRIPTION_ITEMS, params)
        recent = conn.execute(invoices.RECENT_INVOICES, {"customer_id": customer_id, "limit": limit})
        ended = conn.execute(subscriptions.LAST_ENDED_SUBSCRIPTION, params)
    return items.fetchall(), recent.fetchall(), ended.fetchone()

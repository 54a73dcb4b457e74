"""Subscriptions and their items: which ones are live, with price and product.

Each query is served by an index the source's adapter creates
(sql/sources/<name>/020_indexes.sql) or a primary key, so the account page
costs the same few lookups however large the mirror is.
"""

from __future__ import annotations

import psycopg

# Subscriptions that are not over. A canceled one also counts while the period
# it was paid for still runs (see LIVE_SUBSCRIPTION below).
OPEN_STATUSES = ("trialing", "active", "past_due", "unpaid", "incomplete", "paused")

LIVE_SUBSCRIPTION = """(s.status = ANY(%(open_statuses)s)
      OR (s.status = 'canceled' AND s.current_period_end > (now() AT TIME ZONE 'utc')))"""

LIVE_SUBSCRIPTION_ITEMS = f"""SELECT s.id AS subscription_id, s.status, s.created, s.cancel_at_period_end,
                   s.cancel_at, s.canceled_at, s.ended_at, s.trial_end, s.pause_collection_resumes_at,
                   s.default_payment_method_id, s.current_period_end AS period_end,
                   i.id AS item_id, i.quantity, count(i.id) OVER (PARTITION BY s.id) AS item_count,
                   p.id AS price_id, p.nickname, p.currency, p.unit_amount, p.recurring_interval,
                   p.recurring_interval_count, p.deleted AS price_deleted,
                   pr.id AS product_id, pr.name AS product_name, pr.deleted AS product_deleted,
                   pr.metadata AS product_metadata,
                   owed.pay_url, owed.amount_owed, owed.owed_currency
              FROM billing_mirror.subscriptions s
              LEFT JOIN LATERAL (  -- what the subscription's open invoices ask for; the newest one's page
                   SELECT (array_agg(o.hosted_invoice_url ORDER BY o.created DESC NULLS LAST))[1] AS pay_url,
                          sum(o.amount_remaining) AS amount_owed, min(o.currency) AS owed_currency
                     FROM billing_mirror.invoices o
                    WHERE o.customer_id = s.customer_id AND o.subscription_id = s.id
                      AND o.status = 'open' AND NOT o.deleted) owed ON s.status = ANY(%(owing_statuses)s)
              LEFT JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id AND NOT i.deleted
              LEFT JOIN billing_mirror.prices p ON p.id = i.price_id
              LEFT JOIN billing_mirror.products pr ON pr.id = p.product_id
             WHERE s.customer_id = %(customer_id)s AND {LIVE_SUBSCRIPTION}
             ORDER BY s.created DESC NULLS LAST, s.id, i.created NULLS LAST, i.id"""


# the customer's most recent canceled subscription that is over, with its first item's product
# (for "Your Pro plan ended on ..."; run in a pipeline: billing_app.mirror)
LAST_ENDED_SUBSCRIPTION = f"""SELECT s.id AS subscription_id,
                   coalesce(s.ended_at, s.canceled_at, s.current_period_end) AS ended_on, pr.name AS product_name
              FROM billing_mirror.subscriptions s
              LEFT JOIN LATERAL (SELECT i.price_id FROM billing_mirror.subscription_items i
                                  WHERE i.subscription_id = s.id
                                  ORDER BY i.created NULLS LAST, i.id LIMIT 1) first_item ON true
              LEFT JOIN billing_mirror.prices p ON p.id = first_item.price_id
              LEFT JOIN billing_mirror.products pr ON pr.id = p.product_id
             WHERE s.customer_id = %(customer_id)s AND s.status = 'canceled' AND ({LIVE_SUBSCRIPTION}) IS NOT TRUE
             ORDER BY ended_on DESC NULLS LAST, s.id DESC
             LIMIT 1"""


# statuses whose open invoices the customer is asked to pay (see subscription_actions)
OWING_STATUSES = ("past_due", "unpaid", "incomplete")


def status_params() -> dict:
    """The statuses the live-subscription queries take (%(open_statuses)s, %(owing_statuses)s)."""
    return {"open_statuses": list(OPEN_STATUSES), "owing_statuses": list(OWING_STATUSES)}


def live_params(customer_id: str) -> dict:
    return {"customer_id": customer_id, **status_params()}


def live_subscription_items(conn: psycopg.Connection, customer_id: str) -> list[dict]:
    """One row per item of each live subscription, newest subscription first.

    Price and product are LEFT JOINed: an item whose price or product is
    missing from the mirror still comes back, with those columns NULL; a
    subscription without items comes back once, with item_id NULL.
    """
    return conn.execute(LIVE_SUBSCRIPTION_ITEMS, live_params(customer_id)).fetchall()


def live_subscription_of_customer(conn: psycopg.Connection, customer_id: str,
                                  subscription_id: str) -> list[dict]:
    """The items of ``subscription_id`` when it is a live subscription of ``customer_id``, else [].

    Each row also carries what subscription_actions needs (status, cancel_at_period_end,
    cancel_at, item_count) and the item's price's product and currency.
    """
    return conn.execute(
        f"""SELECT s.id AS subscription_id, s.status, s.cancel_at_period_end, s.cancel_at,
                   i.id AS item_id, count(i.id) OVER () AS item_count, i.price_id, p.product_id, p.currency,
                   pr.metadata AS product_metadata
              FROM billing_mirror.subscriptions s
              LEFT JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id AND NOT i.deleted
              LEFT JOIN billing_mirror.prices p ON p.id = i.price_id
              LEFT JOIN billing_mirror.products pr ON pr.id = p.product_id
             WHERE s.id = %(subscription_id)s AND s.customer_id = %(customer_id)s AND {LIVE_SUBSCRIPTION}
             ORDER BY i.created NULLS LAST, i.id""",
        {**live_params(customer_id), "subscription_id": subscription_id},
    ).fetchall()

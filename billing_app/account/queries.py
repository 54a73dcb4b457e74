"""Reads of the mirrored Stripe tables for one user's account.

Every function takes the connection first and returns plain rows.  Each query
is served by an index from sql/040_mirror_indexes.sql (or a primary key), so
the account page costs the same few lookups however large the mirror is.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)

# Subscriptions that are not over. A canceled one also counts while the period
# it was paid for still runs (see LIVE_SUBSCRIPTION below).
OPEN_STATUSES = ("trialing", "active", "past_due", "unpaid", "incomplete", "paused")

_PERIOD_END = """coalesce(s.current_period_end,
         (SELECT max(si.current_period_end) FROM stripe.subscription_item si
           WHERE si.subscription_id = s.id AND si.deleted IS NOT TRUE))"""

LIVE_SUBSCRIPTION = f"""(s.status = ANY(%(open_statuses)s)
      OR (s.status = 'canceled' AND {_PERIOD_END} > (now() AT TIME ZONE 'utc')))"""


# the customer's default card, joined to the customer row (saves a round trip)
_CARD_COLUMNS = """pm.id AS card_id, pm.type AS card_type, pm.card_brand, pm.card_last4,
                   pm.card_exp_month, pm.card_exp_year"""


def customer_for_user(conn: psycopg.Connection, user_id: int) -> dict | None:
    """The user's Stripe customer, found by metadata.user_id, never by email.

    Deleted customers are ignored.  When several live customers carry the same
    user id (a duplicate made by a retry, say), the one with a live
    subscription wins, then the newest; a warning names them all.
    """
    rows = conn.execute(
        f"""SELECT c.id, c.email, c.name, c.created, c.invoice_settings_default_payment_method_id,
                   EXISTS (SELECT 1 FROM stripe.subscription s
                            WHERE s.customer_id = c.id AND {LIVE_SUBSCRIPTION}) AS has_live_subscription,
                   {_CARD_COLUMNS}
              FROM stripe.customer c
              LEFT JOIN stripe.payment_method pm ON pm.id = c.invoice_settings_default_payment_method_id
             WHERE c.metadata ->> 'user_id' = %(user_id)s
               AND c.deleted IS NOT TRUE
             ORDER BY has_live_subscription DESC, c.created DESC NULLS LAST, c.id DESC""",
        {"user_id": str(user_id), "open_statuses": list(OPEN_STATUSES)},
    ).fetchall()
    if len(rows) > 1:
        log.warning("user %s is linked to %d Stripe customers (%s); using %s", user_id, len(rows),
                    ", ".join(r["id"] for r in rows), rows[0]["id"])
    return rows[0] if rows else remembered_customer(conn, user_id)


def remembered_customer(conn: psycopg.Connection, user_id: int) -> dict | None:
    """The customer the app created at checkout, while the mirror has no row for it yet.

    Once the sync service has mirrored that customer, this returns None and the
    mirror's answer (by metadata.user_id) is the only one.
    """
    return conn.execute(
        f"""SELECT u.stripe_customer_id AS id, u.email, NULL AS name, NULL::timestamp AS created,
                  NULL AS invoice_settings_default_payment_method_id, false AS has_live_subscription,
                  {_CARD_COLUMNS}
             FROM billing_app.users u
             LEFT JOIN stripe.payment_method pm ON false
            WHERE u.id = %s AND u.stripe_customer_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM stripe.customer c WHERE c.id = u.stripe_customer_id)""",
        (user_id,)).fetchone()


_LIVE_SUBSCRIPTION_ITEMS = f"""SELECT s.id AS subscription_id, s.status, s.created, s.cancel_at_period_end, s.cancel_at,
                   s.canceled_at, s.ended_at, s.trial_end, s.pause_collection_resumes_at,
                   s.default_payment_method_id,
                   {_PERIOD_END} AS period_end,
                   i.id AS item_id, i.quantity,
                   p.id AS price_id, p.nickname, p.currency, p.unit_amount, p.recurring_interval,
                   p.recurring_interval_count, p.deleted AS price_deleted,
                   pr.id AS product_id, pr.name AS product_name, pr.deleted AS product_deleted
              FROM stripe.subscription s
              LEFT JOIN stripe.subscription_item i ON i.subscription_id = s.id AND i.deleted IS NOT TRUE
              LEFT JOIN stripe.price p ON p.id = i.price_id
              LEFT JOIN stripe.product pr ON pr.id = p.product_id
             WHERE s.customer_id = %(customer_id)s AND {LIVE_SUBSCRIPTION}
             ORDER BY s.created DESC NULLS LAST, s.id, i.created NULLS LAST, i.id"""

_RECENT_INVOICES = """SELECT id, number, created, total, amount_due, currency, status, hosted_invoice_url,
                             invoice_pdf
                        FROM stripe.invoice
                       WHERE customer_id = %(customer_id)s AND deleted IS NOT TRUE
                       ORDER BY created DESC NULLS LAST, id DESC
                       LIMIT %(limit)s"""


def live_subscription_items(conn: psycopg.Connection, customer_id: str) -> list[dict]:
    """One row per item of each live subscription, newest subscription first.

    Price and product are LEFT JOINed: an item whose price or product is
    missing from the mirror still comes back, with those columns NULL.
    """
    return conn.execute(_LIVE_SUBSCRIPTION_ITEMS,
                        {"customer_id": customer_id, "open_statuses": list(OPEN_STATUSES)}).fetchall()


def items_and_invoices(conn: psycopg.Connection, customer_id: str, limit: int = 10) -> tuple[list, list]:
    """live_subscription_items and the customer's last ``limit`` invoices, in one round trip (pipeline)."""
    with conn.pipeline():
        items = conn.execute(_LIVE_SUBSCRIPTION_ITEMS,
                             {"customer_id": customer_id, "open_statuses": list(OPEN_STATUSES)})
        invoices = conn.execute(_RECENT_INVOICES, {"customer_id": customer_id, "limit": limit})
    return items.fetchall(), invoices.fetchall()


def payment_methods_by_id(conn: psycopg.Connection, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    rows = conn.execute(
        """SELECT id, type, card_brand, card_last4, card_exp_month, card_exp_year
             FROM stripe.payment_method WHERE id = ANY(%s)""", (ids,)).fetchall()
    return {row["id"]: row for row in rows}


def live_subscription_of_customer(conn: psycopg.Connection, customer_id: str,
                                  subscription_id: str) -> list[dict]:
    """The items of ``subscription_id`` when it is a live subscription of ``customer_id``, else []."""
    return conn.execute(
        f"""SELECT s.id AS subscription_id, i.id AS item_id, i.price_id
              FROM stripe.subscription s
              LEFT JOIN stripe.subscription_item i ON i.subscription_id = s.id AND i.deleted IS NOT TRUE
             WHERE s.id = %(subscription_id)s AND s.customer_id = %(customer_id)s AND {LIVE_SUBSCRIPTION}
             ORDER BY i.created NULLS LAST, i.id""",
        {"subscription_id": subscription_id, "customer_id": customer_id, "open_statuses": list(OPEN_STATUSES)},
    ).fetchall()

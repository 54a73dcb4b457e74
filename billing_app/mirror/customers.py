"""Customers: the signed-in user's Stripe customer."""

from __future__ import annotations


import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from billing_app.mirror.subscriptions import LIVE_SUBSCRIPTION, OPEN_STATUSES
from billing_app.request_log import logger

log = logger(__name__)

# the customer's default card, joined to the customer row (saves a round trip)
_CARD_COLUMNS = """pm.id AS card_id, pm.type AS card_type, pm.card_brand, pm.card_last4,
                   pm.card_exp_month, pm.card_exp_year"""


def customer_for_user(conn: psycopg.Connection, user_id: str, *, user_key: str = "user_id") -> dict | None:
    """The user's Stripe customer, found by its metadata (``user_key``, compared as text), never by email.

    Deleted customers are ignored.  When several live customers carry the same
    user id (a duplicate made by a retry, say), the one with a live
    subscription wins, then the newest; a warning names them all.
    """
    # the key goes into the statement as a literal, so the planner can match the expression index
    query = sql.SQL(f"""SELECT c.id, c.email, c.name, c.created, c.default_payment_method_id,
                   EXISTS (SELECT 1 FROM billing_mirror.subscriptions s
                            WHERE s.customer_id = c.id AND {LIVE_SUBSCRIPTION}) AS has_live_subscription,
                   {_CARD_COLUMNS}
              FROM billing_mirror.customers c
              LEFT JOIN billing_mirror.payment_methods pm ON pm.id = c.default_payment_method_id
             WHERE c.metadata ->> {{user_key}} = %(user_id)s
               AND NOT c.deleted
             ORDER BY has_live_subscription DESC, c.created DESC NULLS LAST, c.id DESC""").format(
        user_key=sql.Literal(user_key))
    rows = conn.execute(query, {"user_id": str(user_id), "open_statuses": list(OPEN_STATUSES)}).fetchall()
    if len(rows) > 1:
        log.warning("user %s is linked to %d Stripe customers (%s); using %s", user_id, len(rows),
                    ", ".join(r["id"] for r in rows), rows[0]["id"])
    return rows[0] if rows else remembered_customer(conn, user_id)


def remembered_customer(conn: psycopg.Connection, user_id: str) -> dict | None:
    """The customer the app created at checkout, while the mirror has no row for it yet.

    Once the sync service has mirrored that customer, this returns None and the
    mirror's answer (by its metadata) is the only one.
    """
    return conn.execute(
        f"""SELECT r.stripe_customer_id AS id, NULL AS email, NULL AS name, NULL::timestamp AS created,
                  NULL AS default_payment_method_id, false AS has_live_subscription,
                  {_CARD_COLUMNS}
             FROM billing_app.remembered_customers r
             LEFT JOIN billing_mirror.payment_methods pm ON false
            WHERE r.user_id = %s
              AND NOT EXISTS (SELECT 1 FROM billing_mirror.customers c WHERE c.id = r.stripe_customer_id)""",
        (str(user_id),)).fetchone()


def remember_customer(conn: psycopg.Connection, user_id: str, customer_id: str) -> str:
    """Remember the customer created for ``user_id``; the id remembered first wins (returned)."""
    with conn.transaction():
        conn.execute("""INSERT INTO billing_app.remembered_customers (user_id, stripe_customer_id)
                        VALUES (%s, %s) ON CONFLICT (user_id) DO NOTHING""", (user_id, customer_id))
        row = conn.execute("SELECT stripe_customer_id FROM billing_app.remembered_customers WHERE user_id = %s",
                           (user_id,)).fetchone()
    return row["stripe_customer_id"]


def live_mode_customers(conn: psycopg.Connection) -> int:
    """How many customers in the mirror are live-mode ones (a local mirror has none)."""
    cur = conn.cursor(row_factory=tuple_row)
    return cur.execute("SELECT count(*) FROM billing_mirror.customers WHERE livemode").fetchone()[0]

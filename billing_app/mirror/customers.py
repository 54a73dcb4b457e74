"""Customers: the signed-in user's Stripe customer."""

from __future__ import annotations


import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from billing_app.mirror.subscriptions import LIVE_SUBSCRIPTION, status_params
from billing_app.request_log import logger

log = logger(__name__)

# the customer's default card, joined to the customer row (saves a round trip)
_CARD_COLUMNS = """pm.id AS card_id, pm.type AS card_type, pm.card_brand, pm.card_last4,
                   pm.card_exp_month, pm.card_exp_year"""

# The user's customer, as one statement (params: user_id, open_statuses): the mirror's customer
# whose metadata carries the user id (compared as text, never by email; deleted ones ignored;
# of several, the one with a live subscription, then the newest), else the customer the app
# created at checkout while the mirror has no row for it yet (billing_app.remembered_customers).
# ``linked_ids`` names every mirror customer the user id links to.  The metadata key goes in as
# a literal ({user_key}), so the planner can match the expression index.
_CHOSEN_FIRST = "has_live_subscription DESC, created DESC NULLS LAST, id DESC"
CUSTOMER_OF_USER = f"""WITH linked AS (
            SELECT *, array_agg(id) OVER (ORDER BY {_CHOSEN_FIRST}
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS linked_ids
              FROM (SELECT c.id, c.email, c.name, c.created, c.default_payment_method_id,
                           EXISTS (SELECT 1 FROM billing_mirror.subscriptions s
                                    WHERE s.customer_id = c.id AND {LIVE_SUBSCRIPTION}) AS has_live_subscription,
                           {_CARD_COLUMNS}
                      FROM billing_mirror.customers c
                      LEFT JOIN billing_mirror.payment_methods pm ON pm.id = c.default_payment_method_id
                     WHERE c.metadata ->> {{user_key}} = %(user_id)s
                       AND NOT c.deleted) found
             ORDER BY {_CHOSEN_FIRST}
             LIMIT 1)
        SELECT * FROM linked
         UNION ALL
        SELECT r.stripe_customer_id, NULL, NULL, NULL::timestamp, NULL, false,
               NULL, NULL, NULL, NULL, NULL::integer, NULL::integer, ARRAY[r.stripe_customer_id]
          FROM billing_app.remembered_customers r
         WHERE r.user_id = %(user_id)s AND NOT EXISTS (SELECT 1 FROM linked)
           AND NOT EXISTS (SELECT 1 FROM billing_mirror.customers c WHERE c.id = r.stripe_customer_id)"""

_statements: dict[tuple[str, str], str] = {}


def with_user_key(name: str, template: str, user_key: str) -> str:
    """``template`` with {user_key} set to ``user_key`` as a quoted literal; made once per key."""
    key = (name, user_key)
    if key not in _statements:
        _statements[key] = sql.SQL(template).format(user_key=sql.Literal(user_key)).as_string()
    return _statements[key]


def customer_params(user_id: str) -> dict:
    """CUSTOMER_OF_USER's parameters, and those of the live-subscription queries run beside it."""
    return {"user_id": str(user_id), **status_params()}


def warn_if_linked_twice(customer: dict | None, user_id: str) -> None:
    """One user id in several customers' metadata (a duplicate made by a retry, say): said in the log."""
    if customer is not None and len(customer["linked_ids"]) > 1:
        log.warning("user %s is linked to %d Stripe customers (%s); using %s", user_id,
                    len(customer["linked_ids"]), ", ".join(customer["linked_ids"]), customer["id"])


def customer_of_user(user_id: str, *, user_key: str = "user_id") -> tuple[str, dict]:
    """CUSTOMER_OF_USER for ``user_id``: the statement and its parameters."""
    return with_user_key("customer_of_user", CUSTOMER_OF_USER, user_key), customer_params(user_id)


def customer_for_user(conn: psycopg.Connection, user_id: str, *, user_key: str = "user_id") -> dict | None:
    """The user's Stripe customer (see CUSTOMER_OF_USER), with its default card's columns; None
    when there is none."""
    query, params = customer_of_user(user_id, user_key=user_key)
    customer = conn.execute(query, params).fetchone()
    warn_if_linked_twice(customer, user_id)
    return customer


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

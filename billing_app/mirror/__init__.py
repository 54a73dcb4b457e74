"""The one read layer over the Stripe mirror.

Every read of Stripe data goes through these modules, one per entity
(customers, with their cards; subscriptions; catalogue; invoices), and
``account_rows`` below, the account page's data in one statement made of their
queries.  Each function takes the connection first and returns plain rows.  They read the
canonical views in schema ``billing_mirror`` (sql/mirror/), which the source's
adapter (sql/sources/<name>/) maps onto whatever sync service filled schema
``stripe``: callers never know which source is behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from billing_app.mirror import invoices, subscriptions
from billing_app.mirror.customers import CUSTOMER_OF_USER, customer_params, warn_if_linked_twice, with_user_key

# The account page's data in one statement: the user's customer (customers.CUSTOMER_OF_USER), its
# live subscriptions' items (subscriptions.LIVE_SUBSCRIPTION_ITEMS), its recent invoices
# (invoices.RECENT_INVOICES), its last ended subscription (subscriptions.LAST_ENDED_SUBSCRIPTION)
# and, when the customer has no default card, the newest live subscription's.  Each part is the
# entity module's own query, here run for the customer found (me.id); rows come back as JSON.
_ACCOUNT_PAGE = f"""WITH me AS ({CUSTOMER_OF_USER})
        SELECT row_to_json(me) AS customer,
               (SELECT json_agg(i) FROM ({subscriptions.LIVE_SUBSCRIPTION_ITEMS}) i) AS items,
               (SELECT json_agg(v) FROM ({invoices.RECENT_INVOICES}) v) AS invoices,
               (SELECT row_to_json(e) FROM ({subscriptions.LAST_ENDED_SUBSCRIPTION}) e) AS ended,
               CASE WHEN me.card_id IS NULL THEN (
                   SELECT row_to_json(card) FROM (
                       SELECT pm.id, pm.type, pm.card_brand, pm.card_last4, pm.card_exp_month, pm.card_exp_year
                         FROM billing_mirror.subscriptions s
                         JOIN billing_mirror.payment_methods pm ON pm.id = s.default_payment_method_id
                        WHERE s.customer_id = %(customer_id)s AND {subscriptions.LIVE_SUBSCRIPTION}
                        ORDER BY s.created DESC NULLS LAST, s.id
                        LIMIT 1) card) END AS subscription_card
          FROM me""".replace("%(customer_id)s", "me.id")

# the timestamp columns of those parts: JSON carries them as ISO text
_TIMESTAMPS = ("created", "cancel_at", "canceled_at", "ended_at", "trial_end", "pause_collection_resumes_at",
               "period_end", "ended_on")


def _typed(row: dict | None) -> dict | None:
    if row is not None:
        for name in _TIMESTAMPS:
            if row.get(name) is not None:
                row[name] = datetime.fromisoformat(row[name])
    return row


@dataclass
class AccountRows:
    customer: dict            # customers.customer_for_user's row
    items: list[dict]         # subscriptions.live_subscription_items' rows
    invoices: list[dict]      # the last ``limit`` finalized invoices, newest first
    ended: dict | None        # the last ended subscription
    subscription_card: dict | None  # without a default card on the customer: the newest live subscription's


def account_page(user_id: str, *, user_key: str = "user_id", limit: int = 10) -> tuple[str, dict]:
    """The statement giving the account page's data for ``user_id`` (one row, none without a
    customer) and its parameters: ``account_rows`` runs it; with built-in accounts it travels with
    the user's own row (auth.users.user_with_row)."""
    return with_user_key("account_page", _ACCOUNT_PAGE, user_key), {**customer_params(user_id), "limit": limit}


def account_rows_from(row: dict | None, user_id: str) -> AccountRows | None:
    """``account_page``'s row as AccountRows; None without a customer."""
    if row is None or row["customer"] is None:
        return None
    return AccountRows(customer=customer_from(row["customer"], user_id), items=[_typed(r) for r in row["items"] or []],
                       invoices=[_typed(r) for r in row["invoices"] or []], ended=_typed(row["ended"]),
                       subscription_card=row["subscription_card"])


def customer_from(row: dict | None, user_id: str) -> dict | None:
    """customers.customer_of_user's row read as JSON (the account page's, or read with the signed-in
    user's row), as customer_for_user returns it."""
    customer = _typed(row)
    warn_if_linked_twice(customer, user_id)
    return customer


def account_rows(conn: psycopg.Connection, user_id: str, *, user_key: str = "user_id",
                 limit: int = 10) -> AccountRows | None:
    """Everything the account page reads for ``user_id``, in one statement; None without a customer."""
    query, params = account_page(user_id, user_key=user_key, limit=limit)
    return account_rows_from(conn.execute(query, params).fetchone(), user_id)

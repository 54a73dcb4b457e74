"""Payment methods: cards by id."""

from __future__ import annotations

import psycopg


def payment_methods_by_id(conn: psycopg.Connection, ids: list[str]) -> dict[str, dict]:
    """{id: card row} for the payment methods in ``ids`` that the mirror has."""
    if not ids:
        return {}
    rows = conn.execute(
        """SELECT id, type, card_brand, card_last4, card_exp_month, card_exp_year
             FROM billing_mirror.payment_methods WHERE id = ANY(%s)""", (ids,)).fetchall()
    return {row["id"]: row for row in rows}

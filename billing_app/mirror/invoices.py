"""Invoices: a customer's recent invoices."""

from __future__ import annotations

import psycopg

RECENT_INVOICES = """SELECT id, number, created, total, amount_due, currency, status, hosted_invoice_url,
                            invoice_pdf
                       FROM billing_mirror.invoices
                      WHERE customer_id = %(customer_id)s AND NOT deleted
                      ORDER BY created DESC NULLS LAST, id DESC
                      LIMIT %(limit)s"""


def recent_invoices(conn: psycopg.Connection, customer_id: str, limit: int = 10) -> list[dict]:
    """The customer's last ``limit`` invoices, newest first."""
    return conn.execute(RECENT_INVOICES, {"customer_id": customer_id, "limit": limit}).fetchall()

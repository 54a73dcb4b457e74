"""Invoices: a customer's recent invoices.

Drafts are left out: Stripe shows a customer only finalized invoices (a draft
has no hosted page yet), and a deleted draft stays in some mirrors as a draft
(@supabase/stripe-sync-engine keeps the row of an invoice.deleted event).
"""

from __future__ import annotations

import psycopg

RECENT_INVOICES = """SELECT id, number, created, total, amount_due, currency, status, hosted_invoice_url,
                            invoice_pdf
                       FROM billing_mirror.invoices
                      WHERE customer_id = %(customer_id)s AND NOT deleted AND status IS DISTINCT FROM 'draft'
                      ORDER BY created DESC NULLS LAST, id DESC
                      LIMIT %(limit)s"""


def recent_invoices(conn: psycopg.Connection, customer_id: str, limit: int = 10) -> list[dict]:
    """The customer's last ``limit`` finalized invoices, newest first."""
    return conn.execute(RECENT_INVOICES, {"customer_id": customer_id, "limit": limit}).fetchall()

"""Invoices: a customer's recent invoices.

Drafts are left out: Stripe shows a customer only finalized invoices (a draft
has no hosted page yet), and a deleted draft stays in some mirrors as a draft
(@supabase/stripe-sync-engine keeps the row of an invoice.deleted event).
"""

# a customer's last %(limit)s finalized invoices, newest first (run in a pipeline: billing_app.mirror)
RECENT_INVOICES = """SELECT id, number, created, total, amount_due, currency, status, hosted_invoice_url,
                            invoice_pdf
                       FROM billing_mirror.invoices
                      WHERE customer_id = %(customer_id)s AND NOT deleted AND status IS DISTINCT FROM 'draft'
                      ORDER BY created DESC NULLS LAST, id DESC
                      LIMIT %(limit)s"""

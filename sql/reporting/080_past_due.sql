-- The definition of reporting.past_due, computed live; analysts read its stored result
-- (reporting.past_due over reporting_rollups.past_due, made in 100_rollups.sql).
CREATE OR REPLACE VIEW reporting_live.past_due AS
SELECT s.id                                               AS subscription_id,
       s.customer_id,
       c.email,
       s.status,
       inv.currency,
       coalesce(inv.amount_outstanding, 0)                AS amount_outstanding,
       reporting.to_major(coalesce(inv.amount_outstanding, 0), inv.currency) AS amount_outstanding_major,
       coalesce(inv.open_invoices, 0)                     AS open_invoices,
       inv.oldest_open_invoice
  FROM billing_mirror.subscriptions s
  LEFT JOIN billing_mirror.customers c ON c.id = s.customer_id
  LEFT JOIN LATERAL (
        SELECT i.currency,
               sum(coalesce(i.amount_remaining, i.amount_due)) AS amount_outstanding,
               count(*)                                        AS open_invoices,
               min(i.created)                                  AS oldest_open_invoice
          FROM billing_mirror.invoices i
         WHERE i.subscription_id = s.id AND i.status = 'open' AND i.deleted IS NOT TRUE
         GROUP BY i.currency
       ) inv ON true
 WHERE s.status IN ('past_due', 'unpaid');

COMMENT ON VIEW reporting_live.past_due IS
    'Subscriptions whose payment failed (status past_due or unpaid), one row per subscription and invoice currency, with the amount still owed on their open invoices (amount_remaining, in minor units; amount_outstanding_major in major units), how many open invoices there are and the oldest one''s date.';

CREATE OR REPLACE VIEW reporting.active_subscriptions AS
SELECT c.id                                          AS customer_id,
       c.email,
       s.id                                          AS subscription_id,
       s.status,
       pr.id                                         AS product_id,
       pr.name                                       AS product,
       i.price_id,
       p.nickname                                    AS price,
       p.currency,
       p.unit_amount,
       i.quantity,
       p.recurring_interval                          AS billing_interval,
       p.recurring_interval_count                    AS interval_count,
       coalesce(i.current_period_end, s.current_period_end) AS current_period_end,  -- the item's own first: no subquery
       s.cancel_at_period_end,
       s.trial_end
  FROM billing_mirror.subscriptions s
  JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id AND i.deleted IS NOT TRUE
  LEFT JOIN billing_mirror.customers c ON c.id = s.customer_id
  LEFT JOIN billing_mirror.prices p ON p.id = i.price_id
  LEFT JOIN billing_mirror.products pr ON pr.id = p.product_id
 WHERE s.status IN ('active', 'past_due', 'trialing');

COMMENT ON VIEW reporting.active_subscriptions IS
    'One row per subscription item that bills now: subscriptions in status active, past_due or trialing (a trial bills when it ends). unit_amount is in the currency''s minor unit (cents; yen for JPY); price_id is the price the item bills on; the other price and product columns are NULL when the mirror lacks that price (not synced yet, or deleted by a sync service that removes deleted prices).';

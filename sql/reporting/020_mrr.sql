-- The one definition of MRR: what each subscription item carries a month at
-- its price and quantity, whatever the subscription's status. reporting.mrr
-- keeps the items that bill now; reporting_live.monthly_movements dates them
-- by when their subscription started and ended.
CREATE OR REPLACE VIEW reporting_live.subscription_item_mrr AS
SELECT s.customer_id,
       s.id                                          AS subscription_id,
       s.status,
       coalesce(s.start_date, s.created)             AS subscription_started,
       coalesce(s.ended_at, s.canceled_at)           AS subscription_ended,
       i.id                                          AS subscription_item_id,
       pr.id                                         AS product_id,
       pr.name                                       AS product,
       p.id                                          AS price_id,
       p.currency,
       i.quantity,
       p.recurring_interval                          AS billing_interval,
       p.recurring_interval_count                    AS interval_count,
       reporting.monthly_amount(coalesce(p.unit_amount::numeric, p.unit_amount_decimal), i.quantity,
                                p.recurring_interval, p.recurring_interval_count) AS mrr_minor_units
  FROM billing_mirror.subscriptions s
  JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id AND i.deleted IS NOT TRUE
  JOIN billing_mirror.prices p ON p.id = i.price_id
  LEFT JOIN billing_mirror.products pr ON pr.id = p.product_id
 WHERE p.type = 'recurring'
   AND p.recurring_usage_type IS DISTINCT FROM 'metered'
   AND coalesce(p.unit_amount::numeric, p.unit_amount_decimal) IS NOT NULL;

COMMENT ON VIEW reporting_live.subscription_item_mrr IS
    'Every subscription item''s monthly amount at its price and quantity, in any subscription status (the MRR rule shared by reporting.mrr and the movements report). Same exclusions as reporting.mrr.';

CREATE OR REPLACE VIEW reporting.mrr AS
SELECT customer_id, subscription_id, status, subscription_item_id, product_id, product, price_id, currency,
       quantity, billing_interval, interval_count, mrr_minor_units
  FROM reporting_live.subscription_item_mrr
 WHERE status IN ('active', 'past_due');

COMMENT ON VIEW reporting.mrr IS
    'Monthly recurring revenue per subscription item, in the price''s currency and minor units (mrr_minor_units, not rounded): unit amount x quantity, normalised from the price''s interval (day x 365/12, week x 52/12, month x 1, year x 1/12) and divided by the interval count. Counted for status active and past_due only; trialing, canceled, incomplete, incomplete_expired, unpaid and paused count nothing. Excluded: metered prices (usage is not known in advance), one-time prices, tiered prices without a unit amount, and items whose price is missing from the mirror. Discounts and taxes are not applied. A deleted price still counts while a subscription bills on it. Computed live.';

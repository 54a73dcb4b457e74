CREATE OR REPLACE VIEW reporting.monthly_movements AS
WITH subscription_mrr AS (
    -- the monthly amount each subscription carries at its prices and quantities,
    -- whatever its status now (same normalisation and exclusions as reporting.mrr)
    SELECT s.id, s.status, p.currency,
           coalesce(s.start_date, s.created)                 AS started,
           CASE WHEN s.status = 'canceled' THEN coalesce(s.ended_at, s.canceled_at) END AS churned,
           sum(reporting.monthly_amount(coalesce(p.unit_amount::numeric, p.unit_amount_decimal), i.quantity,
                                        p.recurring_interval, p.recurring_interval_count)) AS mrr_minor_units
      FROM billing_mirror.subscriptions s
      JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id AND i.deleted IS NOT TRUE
      JOIN billing_mirror.prices p ON p.id = i.price_id
     WHERE p.type = 'recurring' AND p.recurring_usage_type IS DISTINCT FROM 'metered'
     GROUP BY s.id, s.status, p.currency, started, churned
),
new AS (
    SELECT date_trunc('month', started)::date AS month, currency,
           count(*) AS subscriptions, sum(mrr_minor_units) AS mrr_minor_units
      FROM subscription_mrr
     WHERE status NOT IN ('incomplete', 'incomplete_expired') AND started IS NOT NULL
     GROUP BY 1, 2
),
churned AS (
    SELECT date_trunc('month', churned)::date AS month, currency,
           count(*) AS subscriptions, sum(mrr_minor_units) AS mrr_minor_units
      FROM subscription_mrr
     WHERE churned IS NOT NULL
     GROUP BY 1, 2
)
SELECT month,
       currency,
       coalesce(new.subscriptions, 0)                          AS new_subscriptions,
       round(coalesce(new.mrr_minor_units, 0), 2)              AS new_mrr_minor_units,
       coalesce(churned.subscriptions, 0)                      AS churned_subscriptions,
       round(coalesce(churned.mrr_minor_units, 0), 2)          AS churned_mrr_minor_units
  FROM new
  FULL JOIN churned USING (month, currency);

COMMENT ON VIEW reporting.monthly_movements IS
    'Per calendar month (UTC) and currency: subscriptions started (start_date, else created; never-paid incomplete ones left out) and subscriptions churned (status canceled, dated by ended_at, else canceled_at), each with the MRR they carry at their prices and quantities, in minor units (normalised as in reporting.mrr; metered and one-time prices excluded). A subscription with items in two currencies counts once per currency.';

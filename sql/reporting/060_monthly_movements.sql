-- The definition of reporting.monthly_movements, computed live; analysts read its stored result
-- (reporting.monthly_movements over reporting_rollups.monthly_movements, made in 100_rollups.sql).
CREATE OR REPLACE VIEW reporting_live.monthly_movements AS
WITH subscription_mrr AS (
    -- the monthly amount each subscription carries at its prices and quantities,
    -- whatever its status now (the MRR rule of reporting_live.subscription_item_mrr)
    SELECT subscription_id, status, currency,
           subscription_started                                               AS started,
           CASE WHEN status = 'canceled' THEN subscription_ended END          AS churned,
           sum(mrr_minor_units)                                               AS mrr_minor_units
      FROM reporting_live.subscription_item_mrr
     GROUP BY subscription_id, status, currency, started, churned
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

COMMENT ON VIEW reporting_live.monthly_movements IS
    'Per calendar month (UTC) and currency: subscriptions started (start_date, else created; never-paid incomplete ones left out) and subscriptions churned (status canceled, dated by ended_at, else canceled_at), each with the MRR they carry at their prices and quantities, in minor units (the rule and exclusions of reporting.mrr). A subscription with items in two currencies counts once per currency.';

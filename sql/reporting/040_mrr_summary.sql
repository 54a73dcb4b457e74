-- The definition of reporting.mrr_summary, computed live; analysts read its stored result
-- (reporting.mrr_summary over reporting_rollups.mrr_summary, made in 100_rollups.sql).
CREATE OR REPLACE VIEW reporting_live.mrr_summary AS
SELECT currency,
       count(DISTINCT customer_id)                    AS customers,
       count(DISTINCT subscription_id)                AS subscriptions,
       round(sum(mrr_minor_units), 2)                 AS mrr_minor_units,
       reporting.to_major(sum(mrr_minor_units), currency)      AS mrr,
       reporting.to_major(sum(mrr_minor_units) * 12, currency) AS arr
  FROM reporting.mrr
 GROUP BY currency;

COMMENT ON VIEW reporting_live.mrr_summary IS
    'Monthly recurring revenue per currency (one row per currency; never summed across currencies): paying customers, subscriptions, MRR in minor units and in major units, and ARR (MRR x 12). Same rules as reporting.mrr.';

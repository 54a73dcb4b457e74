-- The definition of reporting.subscription_status_counts, computed live; analysts read its stored result
-- (reporting.subscription_status_counts over reporting_rollups.subscription_status_counts, made in 100_rollups.sql).
CREATE OR REPLACE VIEW reporting_live.subscription_status_counts AS
SELECT status,
       count(*) AS subscriptions
  FROM billing_mirror.subscriptions
 GROUP BY status;

COMMENT ON VIEW reporting_live.subscription_status_counts IS
    'Number of mirrored subscriptions in each status (trialing, active, past_due, unpaid, incomplete, incomplete_expired, paused, canceled). No money.';

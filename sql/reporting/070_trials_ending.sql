CREATE OR REPLACE VIEW reporting.trials_ending AS
SELECT s.id                                               AS subscription_id,
       s.customer_id,
       c.email,
       s.trial_end,
       date_part('day', s.trial_end - (now() AT TIME ZONE 'utc'))::int AS days_left,
       (SELECT string_agg(coalesce(pr.name, i.price_id), ', ' ORDER BY i.id)
          FROM billing_mirror.subscription_items i
          LEFT JOIN billing_mirror.prices p ON p.id = i.price_id
          LEFT JOIN billing_mirror.products pr ON pr.id = p.product_id
         WHERE i.subscription_id = s.id AND i.deleted IS NOT TRUE) AS products,
       s.cancel_at_period_end
  FROM billing_mirror.subscriptions s
  LEFT JOIN billing_mirror.customers c ON c.id = s.customer_id
 WHERE s.status = 'trialing'
   AND s.trial_end >= (now() AT TIME ZONE 'utc')
   AND s.trial_end < (now() AT TIME ZONE 'utc') + interval '14 days';

COMMENT ON VIEW reporting.trials_ending IS
    'Trials that end in the next 14 days (trial_end in UTC; days_left counts whole days), with the customer''s email and the products on trial. cancel_at_period_end = true means the trial will not convert. No money.';

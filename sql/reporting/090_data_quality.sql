-- The definition of reporting.data_quality, computed live; analysts read its stored result
-- (reporting.data_quality over reporting_rollups.data_quality, made in 100_rollups.sql).
-- The metadata key that links a customer to a user, as `flask db init` last set it (user_id when unset).
CREATE OR REPLACE VIEW reporting_live.customer_link WITH (security_barrier) AS
SELECT coalesce((SELECT user_key FROM billing_app.customer_link), 'user_id') AS user_key;

COMMENT ON VIEW reporting_live.customer_link IS
    'The Stripe customer metadata key holding the app''s user id (STRIPE_CUSTOMER_USER_KEY at the last `flask db init`).';

-- security_barrier: the view reads the app's own schema (user ids), so a function in an analyst's
-- WHERE clause runs only on the rows the view returns, never on the users it filters out. The
-- UNION ALL sits in a subquery: PostgreSQL flattens a view that is a bare UNION ALL into its
-- branches and pushes outer conditions into them, barrier or not.
CREATE OR REPLACE VIEW reporting_live.data_quality WITH (security_barrier) AS
-- Every live customer with the user id its metadata carries (NULL for none or empty), read once:
-- each check below reads this list instead of the customers' metadata again. The metadata key
-- comes from reporting_live.customer_link, read once per query.
WITH linked AS MATERIALIZED (
    SELECT c.id, nullif(c.metadata ->> link.user_key, '') AS user_id, link.user_key
      FROM billing_mirror.customers c CROSS JOIN reporting_live.customer_link link
     WHERE c.deleted IS NOT TRUE)
SELECT problem, object_type, object_id, detail FROM (
-- The checks against billing_app.users apply to the built-in accounts only: a deployment whose
-- users live in its identity provider or host app has none there.
SELECT 'customer_without_user_id' AS problem, 'customer' AS object_type, l.id AS object_id,
       'customer has no metadata.' || l.user_key || ', so no app user can see it' AS detail
  FROM linked l
 WHERE l.user_id IS NULL
UNION ALL
SELECT 'user_without_customer', 'user', u.id::text,
       'app user has no live Stripe customer (free plan)'
  FROM billing_app.users u
 WHERE NOT EXISTS (SELECT 1 FROM linked l WHERE l.user_id = u.id::text)
UNION ALL
SELECT 'customer_with_unknown_user_id', 'customer', l.id,
       'metadata.' || l.user_key || ' ' || l.user_id || ' is not an app user'
  FROM linked l
 WHERE l.user_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM billing_app.users)
   AND NOT EXISTS (SELECT 1 FROM billing_app.users u WHERE u.id::text = l.user_id)
UNION ALL
SELECT 'user_with_several_customers', 'user', l.user_id,
       count(*) || ' live customers carry this user id: ' || string_agg(l.id, ', ' ORDER BY l.id)
  FROM linked l
 WHERE l.user_id IS NOT NULL
 GROUP BY l.user_id
HAVING count(*) > 1
UNION ALL
SELECT CASE WHEN p.id IS NULL THEN 'price_missing' ELSE 'price_deleted' END,
       'subscription_item', i.id,
       'live subscription ' || s.id || ' bills on price ' || coalesce(i.price_id, '(none)')
       || CASE WHEN p.id IS NULL THEN ', which is not in the mirror' ELSE ', which is deleted' END
  FROM billing_mirror.subscriptions s
  JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id AND i.deleted IS NOT TRUE
  LEFT JOIN billing_mirror.prices p ON p.id = i.price_id
 WHERE s.status NOT IN ('canceled', 'incomplete_expired')
   AND (p.id IS NULL OR p.deleted IS TRUE)
UNION ALL
SELECT CASE WHEN pr.id IS NULL THEN 'product_missing' ELSE 'product_deleted' END,
       'subscription_item', i.id,
       'live subscription ' || s.id || ' bills on product ' || coalesce(p.product_id, '(none)')
       || CASE WHEN pr.id IS NULL THEN ', which is not in the mirror' ELSE ', which is deleted' END
  FROM billing_mirror.subscriptions s
  JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id AND i.deleted IS NOT TRUE
  JOIN billing_mirror.prices p ON p.id = i.price_id
  LEFT JOIN billing_mirror.products pr ON pr.id = p.product_id
 WHERE s.status NOT IN ('canceled', 'incomplete_expired')
   AND (pr.id IS NULL OR pr.deleted IS TRUE)
) AS problems;

COMMENT ON VIEW reporting_live.data_quality IS
    'One row per problem between the mirror and the app: problem (customer_without_user_id, user_without_customer, customer_with_unknown_user_id (built-in accounts only), user_with_several_customers, price_missing, price_deleted, product_missing, product_deleted), the object it concerns and a sentence saying what is wrong. Live subscriptions are all but canceled and incomplete_expired. Shows app user ids, never their emails or password hashes. No money.';

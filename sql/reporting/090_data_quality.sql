-- The definition of reporting.data_quality, computed live; analysts read its stored result
-- (reporting.data_quality over reporting_rollups.data_quality, made in 100_rollups.sql).
CREATE OR REPLACE VIEW reporting_live.data_quality AS
SELECT 'customer_without_user_id' AS problem, 'customer' AS object_type, c.id AS object_id,
       'customer has no metadata.user_id, so no app user can see it' AS detail
  FROM billing_mirror.customers c
 WHERE c.deleted IS NOT TRUE AND coalesce(c.metadata ->> 'user_id', '') = ''
UNION ALL
SELECT 'user_without_customer', 'user', u.id::text,
       'app user has no live Stripe customer (free plan)'
  FROM billing_app.users u
 WHERE NOT EXISTS (SELECT 1 FROM billing_mirror.customers c
                    WHERE c.metadata ->> 'user_id' = u.id::text AND c.deleted IS NOT TRUE)
UNION ALL
SELECT 'customer_with_unknown_user_id', 'customer', c.id,
       'metadata.user_id ' || (c.metadata ->> 'user_id') || ' is not an app user'
  FROM billing_mirror.customers c
 WHERE c.deleted IS NOT TRUE AND coalesce(c.metadata ->> 'user_id', '') <> ''
   AND NOT EXISTS (SELECT 1 FROM billing_app.users u WHERE u.id::text = c.metadata ->> 'user_id')
UNION ALL
SELECT 'user_with_several_customers', 'user', c.metadata ->> 'user_id',
       count(*) || ' live customers carry this user id: ' || string_agg(c.id, ', ' ORDER BY c.id)
  FROM billing_mirror.customers c
 WHERE c.deleted IS NOT TRUE AND coalesce(c.metadata ->> 'user_id', '') <> ''
 GROUP BY c.metadata ->> 'user_id'
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
   AND (pr.id IS NULL OR pr.deleted IS TRUE);

COMMENT ON VIEW reporting_live.data_quality IS
    'One row per problem between the mirror and the app: problem (customer_without_user_id, user_without_customer, customer_with_unknown_user_id, user_with_several_customers, price_missing, price_deleted, product_missing, product_deleted), the object it concerns and a sentence saying what is wrong. Live subscriptions are all but canceled and incomplete_expired. Shows app user ids, never their emails or password hashes. No money.';

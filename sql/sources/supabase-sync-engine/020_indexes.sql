-- The indexes the app's lookups need on @supabase/stripe-sync-engine's tables.
-- They live beside the engine's tables (an index must) and are named
-- billing_app_* so it is clear they are ours; the engine's migrations never
-- touch them, and PostgreSQL rebuilds them when a column's type changes. On a
-- large live mirror, create them first with CREATE INDEX CONCURRENTLY under
-- the same names; this file then leaves them alone.

-- the signed-in user's customer
CREATE INDEX IF NOT EXISTS billing_app_customers_user_id_idx
    ON stripe.customers ((metadata ->> 'user_id'));

-- a customer's subscriptions, invoices and payment methods
CREATE INDEX IF NOT EXISTS billing_app_subscriptions_customer_idx ON stripe.subscriptions (customer);
CREATE INDEX IF NOT EXISTS billing_app_invoices_customer_idx ON stripe.invoices (customer);
CREATE INDEX IF NOT EXISTS billing_app_payment_methods_customer_idx ON stripe.payment_methods (customer);

-- a subscription's items
CREATE INDEX IF NOT EXISTS billing_app_subscription_items_subscription_idx
    ON stripe.subscription_items (subscription);

-- a product's prices (plans page, portal configuration)
CREATE INDEX IF NOT EXISTS billing_app_prices_product_idx ON stripe.prices (product);

-- a subscription's invoices (reporting.past_due); the link is read from the
-- invoice's lines under the current API, so the index is on that expression
CREATE INDEX IF NOT EXISTS billing_app_invoices_subscription_idx
    ON stripe.invoices ((coalesce(subscription,
                                  jsonb_path_query_first(lines, '$.data[*].parent.*.subscription ? (@ != null)') #>> '{}',
                                  jsonb_path_query_first(lines, '$.data[*].subscription ? (@ != null)') #>> '{}')));

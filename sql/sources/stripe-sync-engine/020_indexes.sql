-- The indexes the app's lookups need on @stripe/sync-engine's tables, on
-- expressions over _raw_data (the same expressions the adapter reads, so the
-- planner matches them). Named billing_app_* so it is clear they are ours. On
-- a large live mirror, create them first with CREATE INDEX CONCURRENTLY under
-- the same names; this file then leaves them alone. Should the engine ever
-- rebuild its tables, `flask billing doctor` reports them missing and
-- `flask db init` puts them back.

-- the signed-in user's customer
CREATE INDEX IF NOT EXISTS billing_app_customers_user_id_idx
    ON stripe.customers (((_raw_data -> 'metadata') ->> 'user_id'));

-- a customer's subscriptions, invoices and payment methods
CREATE INDEX IF NOT EXISTS billing_app_subscriptions_customer_idx ON stripe.subscriptions ((_raw_data ->> 'customer'));
CREATE INDEX IF NOT EXISTS billing_app_invoices_customer_idx ON stripe.invoices ((_raw_data ->> 'customer'));
CREATE INDEX IF NOT EXISTS billing_app_payment_methods_customer_idx
    ON stripe.payment_methods ((_raw_data ->> 'customer'));

-- a subscription's items
CREATE INDEX IF NOT EXISTS billing_app_subscription_items_subscription_idx
    ON stripe.subscription_items ((_raw_data ->> 'subscription'));

-- a product's prices (plans page, portal configuration)
CREATE INDEX IF NOT EXISTS billing_app_prices_product_idx ON stripe.prices ((_raw_data ->> 'product'));

-- a subscription's invoices (reporting.past_due)
CREATE INDEX IF NOT EXISTS billing_app_invoices_subscription_idx
    ON stripe.invoices ((coalesce(_raw_data #>> '{parent,subscription_details,subscription}',
                                  _raw_data ->> 'subscription')));

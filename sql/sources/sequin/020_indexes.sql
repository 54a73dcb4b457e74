-- The indexes the app's queries need on the mirror.
--
-- This is the one change billing_app asks of a Sequin-owned database. Each
-- index serves a lookup the app makes on every account page or portal click;
-- without them those lookups scan whole tables. On a large live mirror, create
-- them by hand first with CREATE INDEX CONCURRENTLY (same names), and this file
-- then leaves them alone.

-- the signed-in user's customer: metadata->>'user_id'
CREATE INDEX IF NOT EXISTS customer_metadata_user_id_idx
    ON stripe.customer ((metadata ->> 'user_id'));

-- a customer's subscriptions, newest first
CREATE INDEX IF NOT EXISTS subscription_customer_id_idx
    ON stripe.subscription (customer_id, created DESC);

-- a subscription's items
CREATE INDEX IF NOT EXISTS subscription_item_subscription_id_idx
    ON stripe.subscription_item (subscription_id);

-- a customer's recent invoices
CREATE INDEX IF NOT EXISTS invoice_customer_id_created_idx
    ON stripe.invoice (customer_id, created DESC);

-- a customer's payment methods
CREATE INDEX IF NOT EXISTS payment_method_customer_id_idx
    ON stripe.payment_method (customer_id);

-- a product's prices (plans page, portal configuration)
CREATE INDEX IF NOT EXISTS price_product_id_idx
    ON stripe.price (product_id);

-- a subscription's unpaid invoices (reporting.past_due); small: open invoices only
CREATE INDEX IF NOT EXISTS invoice_open_subscription_id_idx
    ON stripe.invoice (subscription_id) WHERE status = 'open';

-- Databases made before remembered_customers kept the customer the app created on the
-- users row (users.stripe_customer_id): move it to remembered_customers, keyed by the
-- user id as text.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = 'billing_app' AND table_name = 'users' AND column_name = 'stripe_customer_id') THEN
        INSERT INTO billing_app.remembered_customers (user_id, stripe_customer_id)
        SELECT id::text, stripe_customer_id FROM billing_app.users WHERE stripe_customer_id IS NOT NULL
        ON CONFLICT (user_id) DO NOTHING;
        ALTER TABLE billing_app.users DROP COLUMN stripe_customer_id;
    END IF;
END
$$;

-- The app's own tables. Everything the app writes lives here, never in "stripe".

CREATE SCHEMA IF NOT EXISTS billing_app;

CREATE TABLE IF NOT EXISTS billing_app.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- stored lower-cased; sign-in compares lower-cased input
    email text NOT NULL CONSTRAINT users_email_lower_case CHECK (email = lower(email)),
    -- a werkzeug.security hash (scrypt), never the password
    password_hash text NOT NULL,
    -- the user's language for Stripe-hosted pages (BCP 47, e.g. "de"), when known
    locale text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The Stripe customer the app created for this user at checkout, remembered
-- for the second or two before the sync service mirrors it. The mirror's
-- stripe.customer (found by metadata.user_id) wins as soon as it has the row.
ALTER TABLE billing_app.users ADD COLUMN IF NOT EXISTS stripe_customer_id text;

CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON billing_app.users (email);

COMMENT ON TABLE billing_app.users IS
    'People who sign in to billing_app. A user is linked to a Stripe customer by stripe.customer.metadata->>''user_id'' = users.id::text.';

-- The app's own tables. Everything the app writes lives here, never in "stripe".
--
-- This file creates the tables as they first were; every change since is a dated
-- file in sql/updates/, applied once and recorded in billing_app.schema_updates
-- (`flask db upgrade`, also run by `flask db init`). Change a table by adding an
-- update file, never by editing this one.

CREATE SCHEMA IF NOT EXISTS billing_app;

CREATE TABLE IF NOT EXISTS billing_app.schema_updates (
    name text PRIMARY KEY,            -- the file in sql/updates/, e.g. 2026-11-23_users_email_verified_at.sql
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE billing_app.schema_updates IS
    'The dated files of sql/updates/ applied to this database, each once, in name order.';

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

CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON billing_app.users (email);

COMMENT ON TABLE billing_app.users IS
    'People who sign in with billing_app''s built-in accounts (AUTH_MODE=accounts). Their user id is users.id::text; a user is linked to a Stripe customer by the customer''s metadata (STRIPE_CUSTOMER_USER_KEY, default user_id) holding that text.';

-- The Stripe customer the app created for a user at checkout, remembered for
-- the second or two before the sync service mirrors it (the mirror's customer,
-- found by its metadata, wins as soon as it has the row). Keyed by the user id
-- as text, so it works for every AUTH_MODE: built-in accounts, a host app's
-- users and an identity provider's tokens.
CREATE TABLE IF NOT EXISTS billing_app.remembered_customers (
    user_id text PRIMARY KEY CONSTRAINT remembered_customers_user_id_length CHECK (length(user_id) BETWEEN 1 AND 255),
    stripe_customer_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE billing_app.remembered_customers IS
    'The Stripe customer billing_app created for a user id (text), until the mirror has it.';

-- How a Stripe customer names its user: the metadata key (STRIPE_CUSTOMER_USER_KEY), written by
-- `flask db init`, read by the reports (reporting.data_quality). One row.
CREATE TABLE IF NOT EXISTS billing_app.customer_link (
    one_row boolean PRIMARY KEY DEFAULT true CONSTRAINT customer_link_one_row CHECK (one_row),
    user_key text NOT NULL DEFAULT 'user_id'
);
INSERT INTO billing_app.customer_link DEFAULT VALUES ON CONFLICT DO NOTHING;

COMMENT ON TABLE billing_app.customer_link IS
    'The Stripe customer metadata key holding the app''s user id (STRIPE_CUSTOMER_USER_KEY), as `flask db init` last set it.';

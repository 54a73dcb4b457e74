-- The mirror of Stripe objects, in the shape Sequin's Stripe sync writes
-- (see ../shared/SEQUIN_SCHEMA.md): schema "stripe", one singular table per
-- object, nested fields flattened with underscores, references ending in _id
-- as real foreign keys, UTC timestamps, metadata as jsonb, money in minor units.
--
-- In production the sync service owns these tables and this file is NOT
-- applied: `flask db init` only runs it with --mirror (local runs, demo, tests).
-- Foreign keys are DEFERRABLE so a loader may write objects in any order within
-- one transaction, as a sync service does.

CREATE SCHEMA IF NOT EXISTS stripe;

CREATE TABLE IF NOT EXISTS stripe.product (
    id text PRIMARY KEY,
    object text,
    name text,
    description text,
    active boolean,
    created timestamp(6) without time zone,
    updated timestamp(6) without time zone,
    images text[],
    unit_label text,
    url text,
    livemode boolean,
    metadata jsonb,
    deleted boolean
);

CREATE TABLE IF NOT EXISTS stripe.price (
    id text PRIMARY KEY,
    object text,
    product_id text CONSTRAINT price_product_id_fk REFERENCES stripe.product (id) DEFERRABLE INITIALLY DEFERRED,
    active boolean,
    currency text,
    unit_amount bigint,
    unit_amount_decimal numeric,
    type text,
    billing_scheme text,
    recurring_interval text,
    recurring_interval_count bigint,
    recurring_usage_type text,
    recurring_trial_period_days bigint,
    nickname text,
    lookup_key text,
    tiers_mode text,
    created timestamp(6) without time zone,
    livemode boolean,
    metadata jsonb,
    deleted boolean
);

CREATE TABLE IF NOT EXISTS stripe.plan (
    id text PRIMARY KEY,
    object text,
    product_id text CONSTRAINT plan_product_id_fk REFERENCES stripe.product (id) DEFERRABLE INITIALLY DEFERRED,
    active boolean,
    amount bigint,
    currency text,
    interval text,
    interval_count bigint,
    nickname text,
    usage_type text,
    trial_period_days bigint,
    created timestamp(6) without time zone,
    metadata jsonb,
    deleted boolean
);

CREATE TABLE IF NOT EXISTS stripe.customer (
    id text PRIMARY KEY,
    object text,
    created timestamp(6) without time zone,
    email text,
    name text,
    phone text,
    currency text,
    delinquent boolean,
    balance bigint,
    description text,
    invoice_prefix text,
    livemode boolean,
    metadata jsonb,
    preferred_locales text[],
    tax_exempt text,
    deleted boolean,
    address_city text,
    address_country text,
    address_line1 text,
    address_line2 text,
    address_postal_code text,
    address_state text,
    invoice_settings_default_payment_method_id text
);

CREATE TABLE IF NOT EXISTS stripe.payment_method (
    id text PRIMARY KEY,
    object text,
    customer_id text CONSTRAINT payment_method_customer_id_fk REFERENCES stripe.customer (id) DEFERRABLE INITIALLY DEFERRED,
    type text,
    card_brand text,
    card_last4 text,
    card_exp_month bigint,
    card_exp_year bigint,
    billing_details_email text,
    billing_details_name text,
    created timestamp(6) without time zone,
    livemode boolean,
    metadata jsonb
);

CREATE TABLE IF NOT EXISTS stripe.subscription (
    id text PRIMARY KEY,
    object text,
    customer_id text CONSTRAINT subscription_customer_id_fk REFERENCES stripe.customer (id) DEFERRABLE INITIALLY DEFERRED,
    status text,
    created timestamp(6) without time zone,
    start_date timestamp(6) without time zone,
    current_period_start timestamp(6) without time zone,
    current_period_end timestamp(6) without time zone,
    cancel_at timestamp(6) without time zone,
    cancel_at_period_end boolean,
    canceled_at timestamp(6) without time zone,
    ended_at timestamp(6) without time zone,
    trial_start timestamp(6) without time zone,
    trial_end timestamp(6) without time zone,
    collection_method text,
    default_payment_method_id text CONSTRAINT subscription_default_payment_method_id_fk REFERENCES stripe.payment_method (id) DEFERRABLE INITIALLY DEFERRED,
    latest_invoice_id text,
    discount_id text,
    livemode boolean,
    metadata jsonb,
    pause_collection_behavior text,
    pause_collection_resumes_at timestamp(6) without time zone
);

CREATE TABLE IF NOT EXISTS stripe.subscription_item (
    id text PRIMARY KEY,
    object text,
    subscription_id text CONSTRAINT subscription_item_subscription_id_fk REFERENCES stripe.subscription (id) DEFERRABLE INITIALLY DEFERRED,
    price_id text CONSTRAINT subscription_item_price_id_fk REFERENCES stripe.price (id) DEFERRABLE INITIALLY DEFERRED,
    plan_id text CONSTRAINT subscription_item_plan_id_fk REFERENCES stripe.plan (id) DEFERRABLE INITIALLY DEFERRED,
    quantity bigint,
    created timestamp(6) without time zone,
    metadata jsonb,
    deleted boolean
);
-- Stripe API versions from 2025-03-31 (basil) on carry the billing period on
-- the subscription item rather than the subscription.
ALTER TABLE stripe.subscription_item ADD COLUMN IF NOT EXISTS current_period_start timestamp(6) without time zone;
ALTER TABLE stripe.subscription_item ADD COLUMN IF NOT EXISTS current_period_end timestamp(6) without time zone;

CREATE TABLE IF NOT EXISTS stripe.invoice (
    id text PRIMARY KEY,
    object text,
    customer_id text CONSTRAINT invoice_customer_id_fk REFERENCES stripe.customer (id) DEFERRABLE INITIALLY DEFERRED,
    subscription_id text CONSTRAINT invoice_subscription_id_fk REFERENCES stripe.subscription (id) DEFERRABLE INITIALLY DEFERRED,
    status text,
    paid boolean,
    amount_due bigint,
    amount_paid bigint,
    amount_remaining bigint,
    subtotal bigint,
    total bigint,
    currency text,
    number text,
    hosted_invoice_url text,
    invoice_pdf text,
    period_start timestamp(6) without time zone,
    period_end timestamp(6) without time zone,
    created timestamp(6) without time zone,
    due_date timestamp(6) without time zone,
    status_transitions_paid_at timestamp(6) without time zone,
    livemode boolean,
    metadata jsonb,
    deleted boolean
);

-- customer.invoice_settings_default_payment_method_id points at a payment
-- method that points back at the customer; added last for that cycle.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conname = 'customer_invoice_settings_default_payment_method_id_fk') THEN
        ALTER TABLE stripe.customer
            ADD CONSTRAINT customer_invoice_settings_default_payment_method_id_fk
            FOREIGN KEY (invoice_settings_default_payment_method_id)
            REFERENCES stripe.payment_method (id) DEFERRABLE INITIALLY DEFERRED;
    END IF;
END
$$;

-- The canonical shape of the mirror: what every read of Stripe data sees,
-- whichever sync service filled the database (sql/sources/<name>/).
--
-- Schema billing_mirror is ours and holds no data: one composite type per
-- Stripe object (the columns the app and the reports use), one function per
-- object that the source's adapter defines, and one view per object over that
-- function. Everything here is rebuilt by every `flask db init`.
--
-- Why functions under the views: the sync engines own schema "stripe" and
-- migrate it on their own schedule. A view records a dependency on every
-- column it reads, and PostgreSQL then refuses the engine's next
-- ALTER COLUMN ... TYPE or DROP COLUMN on those columns. A LANGUAGE sql
-- function records none, and being STABLE and a single SELECT it is inlined
-- by the planner, so a lookup through the view still uses the table's indexes.
-- An adapter's functions only read and say so (PARALLEL SAFE): one function
-- without it keeps every query that reads through it on one core.
--
-- Conventions: times are UTC timestamps (without time zone); money is bigint
-- in the currency's minor unit; ids are Stripe ids; references end in _id;
-- enums are text; deleted is never NULL; synced_at is when the sync service
-- last wrote the row, where the source records it.

DROP SCHEMA IF EXISTS billing_mirror CASCADE;
CREATE SCHEMA billing_mirror;
COMMENT ON SCHEMA billing_mirror IS
    'The Stripe mirror in one canonical shape, whatever sync service filled schema stripe. Read-only views; see sql/mirror/.';

CREATE TYPE billing_mirror.customer AS (
    id text,
    email text,
    name text,
    currency text,
    metadata jsonb,
    default_payment_method_id text,   -- invoice_settings.default_payment_method
    livemode boolean,
    deleted boolean,
    created timestamp,
    synced_at timestamptz
);

CREATE TYPE billing_mirror.product AS (
    id text,
    name text,
    description text,
    active boolean,
    deleted boolean,
    metadata jsonb,                   -- billing_app_kind, billing_app_sort: see billing_app/plans/offer.py
    default_price_id text,            -- NULL where the source does not keep it (Sequin)
    livemode boolean,
    created timestamp,
    synced_at timestamptz
);

CREATE TYPE billing_mirror.price AS (
    id text,
    product_id text,
    active boolean,
    deleted boolean,
    currency text,
    unit_amount bigint,
    unit_amount_decimal numeric,
    type text,                        -- recurring / one_time
    recurring_interval text,          -- day / week / month / year
    recurring_interval_count bigint,
    recurring_usage_type text,        -- licensed / metered
    nickname text,
    lookup_key text,
    metadata jsonb,
    livemode boolean,
    created timestamp,
    synced_at timestamptz
);

CREATE TYPE billing_mirror.subscription AS (
    id text,
    customer_id text,
    status text,
    created timestamp,
    start_date timestamp,
    current_period_start timestamp,   -- the subscription's, else its items' (API 2025-03-31 and later)
    current_period_end timestamp,
    cancel_at timestamp,
    cancel_at_period_end boolean,
    canceled_at timestamp,
    ended_at timestamp,
    trial_start timestamp,
    trial_end timestamp,
    default_payment_method_id text,
    latest_invoice_id text,
    pause_collection_resumes_at timestamp,
    metadata jsonb,
    livemode boolean,
    synced_at timestamptz
);

CREATE TYPE billing_mirror.subscription_item AS (
    id text,
    subscription_id text,
    price_id text,
    quantity bigint,
    deleted boolean,
    current_period_start timestamp,
    current_period_end timestamp,
    created timestamp,
    synced_at timestamptz
);

CREATE TYPE billing_mirror.invoice AS (
    id text,
    customer_id text,
    subscription_id text,             -- parent.subscription_details (new API), else invoice.subscription or its lines
    status text,                      -- draft / open / paid / uncollectible / void
    paid boolean,                     -- status = 'paid' where the source has no paid field
    currency text,
    amount_due bigint,
    amount_paid bigint,
    amount_remaining bigint,
    subtotal bigint,
    total bigint,
    number text,
    hosted_invoice_url text,
    invoice_pdf text,
    period_start timestamp,
    period_end timestamp,
    due_date timestamp,
    livemode boolean,
    deleted boolean,
    created timestamp,
    synced_at timestamptz
);

CREATE TYPE billing_mirror.payment_method AS (
    id text,
    customer_id text,
    type text,
    card_brand text,
    card_last4 text,
    card_exp_month bigint,
    card_exp_year bigint,
    livemode boolean,
    created timestamp,
    synced_at timestamptz
);

-- Epoch seconds (integer, or a number inside jsonb) to a UTC timestamp.
CREATE FUNCTION billing_mirror.utc(epoch bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT to_timestamp(epoch) AT TIME ZONE 'UTC' $$;

CREATE FUNCTION billing_mirror.utc(epoch jsonb) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(epoch) = 'number' THEN to_timestamp((epoch #>> '{}')::bigint) AT TIME ZONE 'UTC' END $$;

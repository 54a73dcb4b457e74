-- Adapter for @supabase/stripe-sync-engine 0.48.x (its migrations are the
-- reference): plural tables in schema stripe, epoch-second integer times,
-- nested objects as jsonb, status enums, references by bare name, no foreign
-- keys, last_synced_at = the time of the event that wrote the row.
--
-- What it does differently from Sequin, mapped here:
-- * subscriptions.current_period_* are NULL from API 2025-03-31 on: taken
--   from the items (subscription_items.current_period_*).
-- * trial_start / trial_end and pause_collection are jsonb.
-- * invoices.subscription and invoices.paid are gone from the current API:
--   the link is read from the invoice's lines (the first line whose parent
--   names a subscription, or the old line.subscription field), paid from the
--   status. A deleted draft invoice has status 'deleted'.
-- * a deleted price or product is removed from its table (an item may then
--   point at a price that is not there); a deleted customer keeps its row with
--   deleted = true and every other column NULL.
--
-- The functions below are never a dependency of the engine's columns (see
-- sql/mirror/010_shape.sql), so its next migration can change them freely.

CREATE FUNCTION billing_mirror.source() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'supabase-sync-engine' $$;

CREATE FUNCTION billing_mirror.source_customers() RETURNS SETOF billing_mirror.customer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, email, name, currency, metadata, invoice_settings ->> 'default_payment_method', livemode,
           coalesce(deleted, false), billing_mirror.utc(created), last_synced_at
      FROM stripe.customers
$$;

CREATE FUNCTION billing_mirror.source_products() RETURNS SETOF billing_mirror.product
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, name, description, active, false, metadata, default_price, livemode, billing_mirror.utc(created),
           last_synced_at
      FROM stripe.products
$$;

CREATE FUNCTION billing_mirror.source_prices() RETURNS SETOF billing_mirror.price
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, product, active, false, currency, unit_amount, unit_amount_decimal::numeric, type::text,
           recurring ->> 'interval', (recurring ->> 'interval_count')::bigint, recurring ->> 'usage_type',
           nickname, lookup_key, metadata, livemode, billing_mirror.utc(created), last_synced_at
      FROM stripe.prices
$$;

CREATE FUNCTION billing_mirror.source_subscriptions() RETURNS SETOF billing_mirror.subscription
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.id, s.customer, s.status::text, billing_mirror.utc(s.created), billing_mirror.utc(s.start_date),
           coalesce(billing_mirror.utc(s.current_period_start),
                    (SELECT billing_mirror.utc(min(i.current_period_start)) FROM stripe.subscription_items i
                      WHERE i.subscription = s.id AND i.deleted IS NOT TRUE)),
           coalesce(billing_mirror.utc(s.current_period_end),
                    (SELECT billing_mirror.utc(max(i.current_period_end)) FROM stripe.subscription_items i
                      WHERE i.subscription = s.id AND i.deleted IS NOT TRUE)),
           billing_mirror.utc(s.cancel_at), coalesce(s.cancel_at_period_end, false), billing_mirror.utc(s.canceled_at),
           billing_mirror.utc(s.ended_at), billing_mirror.utc(s.trial_start), billing_mirror.utc(s.trial_end),
           s.default_payment_method, s.latest_invoice, billing_mirror.utc(s.pause_collection -> 'resumes_at'),
           s.metadata, s.livemode, s.last_synced_at
      FROM stripe.subscriptions s
$$;

CREATE FUNCTION billing_mirror.source_subscription_items() RETURNS SETOF billing_mirror.subscription_item
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, subscription, price, quantity, coalesce(deleted, false), billing_mirror.utc(current_period_start),
           billing_mirror.utc(current_period_end), billing_mirror.utc(created), last_synced_at
      FROM stripe.subscription_items
$$;

CREATE FUNCTION billing_mirror.source_invoices() RETURNS SETOF billing_mirror.invoice
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, customer,
           coalesce(subscription,
                    jsonb_path_query_first(lines, '$.data[*].parent.*.subscription ? (@ != null)') #>> '{}',
                    jsonb_path_query_first(lines, '$.data[*].subscription ? (@ != null)') #>> '{}'),
           status::text, status::text = 'paid', currency, amount_due, amount_paid,
           amount_remaining, subtotal, total, number, hosted_invoice_url, invoice_pdf, billing_mirror.utc(period_start),
           billing_mirror.utc(period_end), billing_mirror.utc(due_date), livemode, status::text = 'deleted',
           billing_mirror.utc(created), last_synced_at
      FROM stripe.invoices
$$;

CREATE FUNCTION billing_mirror.source_payment_methods() RETURNS SETOF billing_mirror.payment_method
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, customer, type, card ->> 'brand', card ->> 'last4', (card ->> 'exp_month')::bigint,
           (card ->> 'exp_year')::bigint, NULL::boolean, billing_mirror.utc(created), last_synced_at
      FROM stripe.payment_methods
$$;

-- Read access to exactly the tables the functions read (they run as the caller).
GRANT USAGE ON SCHEMA stripe TO billing_service, billing_reporting;
GRANT SELECT ON stripe.customers, stripe.products, stripe.prices, stripe.subscriptions, stripe.subscription_items,
                stripe.invoices, stripe.payment_methods
   TO billing_service, billing_reporting;

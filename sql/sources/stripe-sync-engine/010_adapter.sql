-- Adapter for @stripe/sync-engine 1.x (what Supabase's Stripe integration
-- installs): plural tables in schema stripe, each holding the whole Stripe
-- object in _raw_data jsonb, plus generated columns whose set depends on the
-- Stripe API version chosen at install time, _account_id and _last_synced_at
-- (the time of the event that wrote the row).
--
-- This adapter reads only id (the primary key, generated from _raw_data->>'id'
-- in every version), _raw_data and _last_synced_at: it works whatever API
-- version the generated columns came from, and whatever the engine's next
-- migration does to them.
--
-- Mapped here: epochs to timestamps; the period from the items when the
-- subscription has none (API 2025-03-31 and later); the invoice's subscription
-- from parent.subscription_details (or the old invoice.subscription); paid
-- from the status. A deleted price, product or invoice is removed from its
-- table; a deleted customer keeps its row with "deleted": true.

CREATE FUNCTION billing_mirror.source() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'stripe-sync-engine' $$;

CREATE FUNCTION billing_mirror.source_customers() RETURNS SETOF billing_mirror.customer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, _raw_data ->> 'email', _raw_data ->> 'name', _raw_data ->> 'currency', _raw_data -> 'metadata',
           _raw_data #>> '{invoice_settings,default_payment_method}', (_raw_data ->> 'livemode')::boolean,
           coalesce((_raw_data ->> 'deleted')::boolean, false), billing_mirror.utc(_raw_data -> 'created'),
           _last_synced_at
      FROM stripe.customers
$$;

CREATE FUNCTION billing_mirror.source_products() RETURNS SETOF billing_mirror.product
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, _raw_data ->> 'name', _raw_data ->> 'description', (_raw_data ->> 'active')::boolean,
           coalesce((_raw_data ->> 'deleted')::boolean, false), _raw_data -> 'metadata',
           _raw_data ->> 'default_price', (_raw_data ->> 'livemode')::boolean,
           billing_mirror.utc(_raw_data -> 'created'), _last_synced_at
      FROM stripe.products
$$;

CREATE FUNCTION billing_mirror.source_prices() RETURNS SETOF billing_mirror.price
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, _raw_data ->> 'product', (_raw_data ->> 'active')::boolean,
           coalesce((_raw_data ->> 'deleted')::boolean, false), _raw_data ->> 'currency',
           (_raw_data ->> 'unit_amount')::bigint, (_raw_data ->> 'unit_amount_decimal')::numeric,
           _raw_data ->> 'type', _raw_data #>> '{recurring,interval}',
           (_raw_data #>> '{recurring,interval_count}')::bigint, _raw_data #>> '{recurring,usage_type}',
           _raw_data ->> 'nickname', _raw_data ->> 'lookup_key', _raw_data -> 'metadata',
           (_raw_data ->> 'livemode')::boolean, billing_mirror.utc(_raw_data -> 'created'), _last_synced_at
      FROM stripe.prices
$$;

CREATE FUNCTION billing_mirror.source_subscriptions() RETURNS SETOF billing_mirror.subscription
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.id, s._raw_data ->> 'customer', s._raw_data ->> 'status', billing_mirror.utc(s._raw_data -> 'created'),
           billing_mirror.utc(s._raw_data -> 'start_date'),
           coalesce(billing_mirror.utc(s._raw_data -> 'current_period_start'),
                    (SELECT billing_mirror.utc(min((i._raw_data ->> 'current_period_start')::bigint))
                       FROM stripe.subscription_items i
                      WHERE i._raw_data ->> 'subscription' = s.id
                        AND (i._raw_data ->> 'deleted')::boolean IS NOT TRUE)),
           coalesce(billing_mirror.utc(s._raw_data -> 'current_period_end'),
                    (SELECT billing_mirror.utc(max((i._raw_data ->> 'current_period_end')::bigint))
                       FROM stripe.subscription_items i
                      WHERE i._raw_data ->> 'subscription' = s.id
                        AND (i._raw_data ->> 'deleted')::boolean IS NOT TRUE)),
           billing_mirror.utc(s._raw_data -> 'cancel_at'),
           coalesce((s._raw_data ->> 'cancel_at_period_end')::boolean, false),
           billing_mirror.utc(s._raw_data -> 'canceled_at'), billing_mirror.utc(s._raw_data -> 'ended_at'),
           billing_mirror.utc(s._raw_data -> 'trial_start'), billing_mirror.utc(s._raw_data -> 'trial_end'),
           s._raw_data ->> 'default_payment_method', s._raw_data ->> 'latest_invoice',
           billing_mirror.utc(s._raw_data #> '{pause_collection,resumes_at}'), s._raw_data -> 'metadata',
           (s._raw_data ->> 'livemode')::boolean, s._last_synced_at
      FROM stripe.subscriptions s
$$;

CREATE FUNCTION billing_mirror.source_subscription_items() RETURNS SETOF billing_mirror.subscription_item
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, _raw_data ->> 'subscription', coalesce(_raw_data #>> '{price,id}', _raw_data ->> 'price'),
           (_raw_data ->> 'quantity')::bigint, coalesce((_raw_data ->> 'deleted')::boolean, false),
           billing_mirror.utc(_raw_data -> 'current_period_start'), billing_mirror.utc(_raw_data -> 'current_period_end'),
           billing_mirror.utc(_raw_data -> 'created'), _last_synced_at
      FROM stripe.subscription_items
$$;

CREATE FUNCTION billing_mirror.source_invoices() RETURNS SETOF billing_mirror.invoice
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, _raw_data ->> 'customer',
           coalesce(_raw_data #>> '{parent,subscription_details,subscription}', _raw_data ->> 'subscription'),
           _raw_data ->> 'status', _raw_data ->> 'status' = 'paid', _raw_data ->> 'currency',
           (_raw_data ->> 'amount_due')::bigint, (_raw_data ->> 'amount_paid')::bigint,
           (_raw_data ->> 'amount_remaining')::bigint, (_raw_data ->> 'subtotal')::bigint,
           (_raw_data ->> 'total')::bigint, _raw_data ->> 'number', _raw_data ->> 'hosted_invoice_url',
           _raw_data ->> 'invoice_pdf', billing_mirror.utc(_raw_data -> 'period_start'),
           billing_mirror.utc(_raw_data -> 'period_end'), billing_mirror.utc(_raw_data -> 'due_date'),
           (_raw_data ->> 'livemode')::boolean, coalesce((_raw_data ->> 'deleted')::boolean, false),
           billing_mirror.utc(_raw_data -> 'created'), _last_synced_at
      FROM stripe.invoices
$$;

CREATE FUNCTION billing_mirror.source_payment_methods() RETURNS SETOF billing_mirror.payment_method
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, _raw_data ->> 'customer', _raw_data ->> 'type', _raw_data #>> '{card,brand}',
           _raw_data #>> '{card,last4}', (_raw_data #>> '{card,exp_month}')::bigint,
           (_raw_data #>> '{card,exp_year}')::bigint, (_raw_data ->> 'livemode')::boolean,
           billing_mirror.utc(_raw_data -> 'created'), _last_synced_at
      FROM stripe.payment_methods
$$;

-- Read access to exactly the tables the functions read (they run as the
-- caller). Never the whole schema: it also holds the engine's webhook secrets
-- (_managed_webhooks) and API key hashes (accounts).
GRANT USAGE ON SCHEMA stripe TO billing_service, billing_reporting;
GRANT SELECT ON stripe.customers, stripe.products, stripe.prices, stripe.subscriptions, stripe.subscription_items,
                stripe.invoices, stripe.payment_methods
   TO billing_service, billing_reporting;

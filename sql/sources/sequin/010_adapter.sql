-- Adapter for Sequin's Stripe sync (schema stripe, singular tables, columns
-- flattened with underscores, _id references, UTC timestamps; see
-- ../shared/SEQUIN_SCHEMA.md). The shape is already nearly canonical.

CREATE FUNCTION billing_mirror.source() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'sequin' $$;

CREATE FUNCTION billing_mirror.source_customers() RETURNS SETOF billing_mirror.customer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, email, name, currency, metadata, invoice_settings_default_payment_method_id, livemode,
           coalesce(deleted, false), created, NULL::timestamptz
      FROM stripe.customer
$$;

CREATE FUNCTION billing_mirror.source_products() RETURNS SETOF billing_mirror.product
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, name, description, active, coalesce(deleted, false), metadata, NULL, livemode, created,
           NULL::timestamptz
      FROM stripe.product
$$;

CREATE FUNCTION billing_mirror.source_prices() RETURNS SETOF billing_mirror.price
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, product_id, active, coalesce(deleted, false), currency, unit_amount, unit_amount_decimal, type,
           recurring_interval, recurring_interval_count, recurring_usage_type, nickname, lookup_key, metadata,
           livemode, created, NULL::timestamptz
      FROM stripe.price
$$;

CREATE FUNCTION billing_mirror.source_subscriptions() RETURNS SETOF billing_mirror.subscription
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.id, s.customer_id, s.status, s.created, s.start_date,
           coalesce(s.current_period_start,
                    (SELECT min(i.current_period_start) FROM stripe.subscription_item i
                      WHERE i.subscription_id = s.id AND i.deleted IS NOT TRUE)),
           coalesce(s.current_period_end,
                    (SELECT max(i.current_period_end) FROM stripe.subscription_item i
                      WHERE i.subscription_id = s.id AND i.deleted IS NOT TRUE)),
           s.cancel_at, coalesce(s.cancel_at_period_end, false), s.canceled_at, s.ended_at, s.trial_start,
           s.trial_end, s.default_payment_method_id, s.latest_invoice_id, s.pause_collection_resumes_at,
           s.metadata, s.livemode, NULL::timestamptz
      FROM stripe.subscription s
$$;

CREATE FUNCTION billing_mirror.source_subscription_items() RETURNS SETOF billing_mirror.subscription_item
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, subscription_id, price_id, quantity, coalesce(deleted, false), current_period_start,
           current_period_end, created, NULL::timestamptz
      FROM stripe.subscription_item
$$;

CREATE FUNCTION billing_mirror.source_invoices() RETURNS SETOF billing_mirror.invoice
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, customer_id, subscription_id, status, coalesce(paid, status = 'paid'), currency, amount_due,
           amount_paid, amount_remaining, subtotal, total, number, hosted_invoice_url, invoice_pdf, period_start,
           period_end, due_date, livemode, coalesce(deleted, false), created, NULL::timestamptz
      FROM stripe.invoice
$$;

CREATE FUNCTION billing_mirror.source_payment_methods() RETURNS SETOF billing_mirror.payment_method
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT id, customer_id, type, card_brand, card_last4, card_exp_month, card_exp_year, livemode, created,
           NULL::timestamptz
      FROM stripe.payment_method
$$;

-- Read access to exactly the tables the functions read (they run as the caller).
GRANT USAGE ON SCHEMA stripe TO billing_service, billing_reporting;
GRANT SELECT ON stripe.customer, stripe.product, stripe.price, stripe.subscription, stripe.subscription_item,
                stripe.invoice, stripe.payment_method
   TO billing_service, billing_reporting;

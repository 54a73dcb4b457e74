-- The canonical views, one per Stripe object, over the functions the source's
-- adapter defined (sql/sources/<name>/010_adapter.sql). Every read of Stripe
-- data in the app and the reports goes through these.

CREATE VIEW billing_mirror.customers AS SELECT * FROM billing_mirror.source_customers();
CREATE VIEW billing_mirror.products AS SELECT * FROM billing_mirror.source_products();
CREATE VIEW billing_mirror.prices AS SELECT * FROM billing_mirror.source_prices();
CREATE VIEW billing_mirror.subscriptions AS SELECT * FROM billing_mirror.source_subscriptions();
CREATE VIEW billing_mirror.subscription_items AS SELECT * FROM billing_mirror.source_subscription_items();
CREATE VIEW billing_mirror.invoices AS SELECT * FROM billing_mirror.source_invoices();
CREATE VIEW billing_mirror.payment_methods AS SELECT * FROM billing_mirror.source_payment_methods();

COMMENT ON VIEW billing_mirror.customers IS 'Stripe customers; deleted ones have deleted = true (or are gone, where the source removes them).';
COMMENT ON VIEW billing_mirror.products IS 'Stripe products; a source may remove deleted ones instead of flagging them.';
COMMENT ON VIEW billing_mirror.prices IS 'Stripe prices; a source may remove deleted ones instead of flagging them, so an item''s price can be missing.';
COMMENT ON VIEW billing_mirror.subscriptions IS 'Stripe subscriptions; current_period_* come from the items when the subscription has none (API 2025-03-31 and later).';
COMMENT ON VIEW billing_mirror.subscription_items IS 'Items of subscriptions: which price, how many.';
COMMENT ON VIEW billing_mirror.invoices IS 'Stripe invoices; subscription_id from parent.subscription_details where the API version has it; paid from the status.';
COMMENT ON VIEW billing_mirror.payment_methods IS 'Payment methods attached to customers (cards: brand, last 4, expiry).';

-- The app and the analysts read the canonical views; the source tables they
-- read through (the functions run as the caller) are granted by the adapter.
GRANT USAGE ON SCHEMA billing_mirror TO billing_service, billing_reporting;
GRANT SELECT ON ALL TABLES IN SCHEMA billing_mirror TO billing_service, billing_reporting;
REVOKE CREATE ON SCHEMA billing_mirror FROM PUBLIC;

-- Statistics on the expressions the canonical views filter on, where the
-- adapter casts the engine's enums to text or reads a field out of jsonb
-- (status::text, type::text, recurring ->> 'usage_type', the items' deleted
-- flag). PostgreSQL keeps no statistics for an expression unless asked, so it
-- guessed: at 1M customers it took 48 recurring prices for 1 and 90,000
-- active subscriptions for 600, and read the reports through nested loops of
-- index look-ups (reporting.mrr 2.2x slower than on Sequin's shape, where the
-- same filters are on plain columns). With these it plans the same hash joins.
--
-- They live in schema billing_app (ours; nothing of ours goes in schema
-- stripe but the indexes, which must) and record no dependency that stops the
-- engine's migrations: PostgreSQL rebuilds them when a column changes type and
-- drops them with a dropped column; `flask db init` puts them back. They are
-- filled by ANALYZE, here when one is new and afterwards by autovacuum.
-- Expression statistics exist from PostgreSQL 14 on; older servers skip them.

DO $$
DECLARE
    wanted constant text[][] := ARRAY[
        ['mirror_subscriptions_stats', 'stripe.subscriptions', '(status::text)'],
        ['mirror_subscription_items_stats', 'stripe.subscription_items', '(coalesce(deleted, false))'],
        ['mirror_prices_stats', 'stripe.prices',
         '(type::text), (recurring ->> ''usage_type''), (coalesce(unit_amount::numeric, unit_amount_decimal::numeric))'],
        ['mirror_invoices_stats', 'stripe.invoices', '(status::text)']];
    stat text[];
BEGIN
    IF current_setting('server_version_num')::int < 140000 THEN
        RAISE NOTICE 'billing_app: PostgreSQL % keeps no expression statistics; the reports may plan worse than on 14 or later',
            current_setting('server_version');
        RETURN;
    END IF;
    FOREACH stat SLICE 1 IN ARRAY wanted LOOP
        IF to_regclass(stat[2]) IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM pg_statistic_ext
                 WHERE stxname = stat[1] AND stxnamespace = 'billing_app'::regnamespace) THEN
            EXECUTE format('CREATE STATISTICS billing_app.%I ON %s FROM %s', stat[1], stat[3], stat[2]);
            EXECUTE format('ANALYZE %s', stat[2]);
        END IF;
    END LOOP;
END
$$;

-- The reporting schemas. Money is always in the price's currency; no view
-- ever adds two currencies together.
--
--   reporting          what analysts read (role billing_reporting, read-only):
--                      row-level views computed live from the mirror, and the
--                      aggregate reports, read from their rollups.
--   reporting_live     the definition of each aggregate report, computed now
--                      from the mirror (slow on a large mirror; `flask report
--                      show NAME --live`), and subscription_item_mrr, the MRR
--                      rule they share with reporting.mrr. The money functions
--                      below are in schema reporting, for analysts too.
--   reporting_rollups  the stored result of each reporting_live report, as of
--                      the last `flask report refresh` (100_rollups.sql), and
--                      when that was (table refreshes). Plain tables, so they
--                      replicate to a read replica like any other.

CREATE SCHEMA IF NOT EXISTS reporting;
COMMENT ON SCHEMA reporting IS
    'Read-only business reporting over the Stripe mirror: MRR, churn, trials, past due, data quality.';
CREATE SCHEMA IF NOT EXISTS reporting_live;
COMMENT ON SCHEMA reporting_live IS
    'The aggregate reports computed now from the mirror; reporting.<name> reads the same from its rollup.';
CREATE SCHEMA IF NOT EXISTS reporting_rollups;
COMMENT ON SCHEMA reporting_rollups IS
    'The stored result of each reporting_live report as of the last `flask report refresh`, and when that was.';

-- Every view of reporting and reporting_live is made again on each run, from scratch, in
-- the same transaction as the rest of `flask db init`/`upgrade`: a view may change its
-- columns freely (CREATE OR REPLACE VIEW cannot), and readers never see it missing.
DO $$
DECLARE
    view record;
BEGIN
    FOR view IN SELECT schemaname, viewname FROM pg_views WHERE schemaname IN ('reporting', 'reporting_live')
    LOOP
        EXECUTE format('DROP VIEW IF EXISTS %I.%I CASCADE', view.schemaname, view.viewname);
    END LOOP;
END
$$;

-- Monthly amount of a recurring price: amount x quantity, normalised from
-- its interval: day x 365/12, week x 52/12, month x 1, year x 1/12, each
-- divided by the interval count (a 3-month price of 90.00 is 30.00 a month).
CREATE OR REPLACE FUNCTION reporting.monthly_amount(
    amount numeric, quantity bigint, billing_interval text, interval_count bigint)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT amount * coalesce(quantity, 1)
           * CASE billing_interval WHEN 'day' THEN 365 WHEN 'week' THEN 52 WHEN 'month' THEN 12
                                   WHEN 'year' THEN 1 END
           / (12 * nullif(coalesce(interval_count, 1), 0))
$$;
COMMENT ON FUNCTION reporting.monthly_amount(numeric, bigint, text, bigint) IS
    'Monthly amount (minor units) of amount x quantity billed every interval_count billing_interval(s).';

-- How many decimals a currency's minor unit has, by Stripe's rule
-- (https://docs.stripe.com/currencies): zero-decimal JPY, KRW, ...;
-- three-decimal BHD, KWD, ...; two for every other currency.
CREATE OR REPLACE FUNCTION reporting.currency_exponent(currency text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN lower(currency) IN ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx',
                                 'vnd', 'vuv', 'xaf', 'xof', 'xpf') THEN 0
        WHEN lower(currency) IN ('bhd', 'jod', 'kwd', 'omr', 'tnd') THEN 3
        ELSE 2 END
$$;
COMMENT ON FUNCTION reporting.currency_exponent(text) IS
    'Decimals of the currency''s minor unit as Stripe counts them: 0 (jpy, krw, ...), 3 (bhd, kwd, ...) or 2.';

-- Minor units to major units, rounded to the currency's own decimals.
CREATE OR REPLACE FUNCTION reporting.to_major(amount numeric, currency text)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT round(amount / power(10::numeric, reporting.currency_exponent(currency)),
                 reporting.currency_exponent(currency))
$$;
COMMENT ON FUNCTION reporting.to_major(numeric, text) IS
    'An amount in minor units as major units of its currency, to its decimals (1999 usd -> 19.99; 3000 jpy -> 3000; 1234 kwd -> 1.234).';

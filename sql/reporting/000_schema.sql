-- The reporting schema: documented views over the mirror for analysts
-- (role billing_reporting, read-only). Money is always in the price's
-- currency; no view ever adds two currencies together.

CREATE SCHEMA IF NOT EXISTS reporting;
COMMENT ON SCHEMA reporting IS
    'Read-only business reporting over the stripe.* mirror: MRR, churn, trials, past due, data quality.';

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

-- Minor units to major units with Stripe's decimals per currency
-- (zero-decimal: JPY, KRW, ...; three-decimal: BHD, KWD, ...).
CREATE OR REPLACE FUNCTION reporting.to_major(amount numeric, currency text)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT round(amount / CASE
        WHEN lower(currency) IN ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx',
                                 'vnd', 'vuv', 'xaf', 'xof', 'xpf') THEN 1
        WHEN lower(currency) IN ('bhd', 'jod', 'kwd', 'omr', 'tnd') THEN 1000
        ELSE 100 END, 2)
$$;
COMMENT ON FUNCTION reporting.to_major(numeric, text) IS
    'An amount in minor units as major units of its currency (1999 usd -> 19.99; 3000 jpy -> 3000), rounded to 2 places.';

-- The definition of reporting.mrr_by_product, computed live; analysts read its stored result
-- (reporting.mrr_by_product over reporting_rollups.mrr_by_product, made in 100_rollups.sql).
CREATE OR REPLACE VIEW reporting_live.mrr_by_product AS
SELECT currency,
       product_id,
       product,
       count(DISTINCT subscription_id)                AS subscriptions,
       count(*)                                       AS subscription_items,
       round(sum(mrr_minor_units), 2)                 AS mrr_minor_units,
       reporting.to_major(sum(mrr_minor_units), currency) AS mrr
  FROM reporting.mrr
 GROUP BY currency, product_id, product;

COMMENT ON VIEW reporting_live.mrr_by_product IS
    'Monthly recurring revenue per currency and product (one row each; currencies are never added together). mrr_minor_units is the sum of reporting.mrr rounded to 2 places; mrr is the same in major units (dollars, euros; yen stay yen). Same rules as reporting.mrr.';

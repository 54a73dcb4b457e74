-- Analysts (billing_reporting) read the reporting views; nothing else is granted here.
-- The views run with their owner's rights, so data_quality may look at
-- billing_app.users while billing_reporting itself cannot. The canonical views
-- they read go through the source's adapter functions, which run with the
-- caller's rights: the caller needs SELECT on the source's tables in schema
-- stripe, which the adapter grants to billing_reporting.
GRANT USAGE ON SCHEMA reporting TO billing_reporting;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO billing_reporting;
REVOKE CREATE ON SCHEMA reporting FROM PUBLIC;

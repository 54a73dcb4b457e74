-- Analysts (billing_reporting) read the reporting views; nothing else is granted here.
-- The views run with their owner's rights, so data_quality may look at
-- billing_app.users while billing_reporting itself cannot.
GRANT USAGE ON SCHEMA reporting TO billing_reporting;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO billing_reporting;
REVOKE CREATE ON SCHEMA reporting FROM PUBLIC;

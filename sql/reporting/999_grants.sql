-- Analysts (billing_reporting) read the reporting views, and the live
-- definitions (`flask report show NAME --live`); nothing else is granted here.
-- The views run with their owner's rights, so data_quality may look at
-- billing_app.users while billing_reporting itself cannot, and the rollup views
-- read reporting_rollups without a grant on it. The canonical views they read
-- go through the source's adapter functions, which run with the caller's
-- rights: the caller needs SELECT on the source's tables in schema stripe,
-- which the adapter grants to billing_reporting.
GRANT USAGE ON SCHEMA reporting, reporting_live TO billing_reporting;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting, reporting_live TO billing_reporting;
REVOKE ALL ON SCHEMA reporting_rollups FROM PUBLIC, billing_reporting, billing_service;
REVOKE CREATE ON SCHEMA reporting, reporting_live FROM PUBLIC;

-- `flask report refresh` (billing_refresh, a member of billing_reporting, so it
-- reads what analysts read) replaces the rows of the rollups and records when.
GRANT USAGE ON SCHEMA reporting_rollups TO billing_refresh;
GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA reporting_rollups TO billing_refresh;
GRANT UPDATE (refreshed_at, mirror_synced_at, refresh_seconds, rows) ON reporting_rollups.refreshes TO billing_refresh;

-- The app's doctor checks how fresh the rollups are.
GRANT USAGE ON SCHEMA reporting TO billing_service;
GRANT SELECT ON reporting.rollup_freshness TO billing_service;

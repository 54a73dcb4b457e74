-- Group roles (NOLOGIN). A deployment grants them to its login roles:
--   GRANT billing_service TO my_app_login;     -- the web app
--   GRANT billing_reporting TO alice;          -- an analyst
--   GRANT billing_refresh TO my_app_login;     -- whoever runs `flask report refresh` (cron)
-- The app runs `SET ROLE billing_service` (DATABASE_ROLE) on every connection,
-- so whatever login it uses, it can only read the mirror.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'billing_service') THEN
        CREATE ROLE billing_service NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'billing_reporting') THEN
        CREATE ROLE billing_reporting NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'billing_refresh') THEN
        CREATE ROLE billing_refresh NOLOGIN;
    END IF;
END
$$;

-- The mirror: nothing but what the source's adapter grants (SELECT on the few
-- tables it reads, sql/sources/<name>/010_adapter.sql). The engines keep
-- secrets in schema stripe too (webhook secrets, API key hashes), so the roles
-- never get the whole schema.
REVOKE ALL ON ALL TABLES IN SCHEMA stripe FROM billing_service, billing_reporting, billing_refresh;

-- The refresh of the precomputed reports reads what analysts read (and writes
-- the rollups, sql/reporting/999_grants.sql).
GRANT billing_reporting TO billing_refresh;

-- The app's own schema: read/write for the app, nothing for reporting
-- (users holds password hashes).
GRANT USAGE ON SCHEMA billing_app TO billing_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA billing_app TO billing_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA billing_app TO billing_service;
REVOKE ALL ON ALL TABLES IN SCHEMA billing_app FROM PUBLIC, billing_reporting, billing_refresh;
REVOKE ALL ON SCHEMA billing_app FROM PUBLIC, billing_reporting, billing_refresh;

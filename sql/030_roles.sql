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

-- Analysts make no temporary objects: a function of their own in pg_temp is
-- the way to peek past a view's filter (the views are security barriers too,
-- sql/reporting/090_data_quality.sql). TEMPORARY is a database privilege that
-- PUBLIC holds by default, so it is moved from PUBLIC to every existing role
-- except billing_app's and the analysts (members of billing_reporting). A
-- role created later gets it only when granted:
--   GRANT TEMPORARY ON DATABASE <this database> TO new_role;
-- Only the database's owner (or a superuser) can move it; anyone else is told.
DO $$
DECLARE
    db name := current_database();
    owner oid := (SELECT datdba FROM pg_database WHERE datname = current_database());
    keep record;
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM billing_service, billing_reporting, billing_refresh', db);
    IF NOT EXISTS (SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                    WHERE d.datname = db AND a.grantee = 0 AND a.privilege_type = 'TEMPORARY') THEN
        RETURN;  -- PUBLIC no longer holds it: done on an earlier run, or by the operator
    END IF;
    IF NOT pg_has_role(current_user, owner, 'MEMBER')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'billing_app: analysts (billing_reporting) can still create temporary objects, '
                     'because every role may (PUBLIC holds TEMPORARY on database %); '
                     'run `flask db init` as the database owner, %, to take it from them', db, owner::regrole;
        RETURN;
    END IF;
    FOR keep IN SELECT rolname FROM pg_roles
                 WHERE rolname !~ '^pg_' AND NOT rolsuper AND oid <> owner
                   AND rolname NOT IN ('billing_service', 'billing_reporting', 'billing_refresh')
                   AND NOT pg_has_role(oid, 'billing_reporting', 'MEMBER')
    LOOP
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', db, keep.rolname);
    END LOOP;
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', db);
    RAISE NOTICE 'billing_app: TEMPORARY on database % moved from PUBLIC to its existing roles but the analysts; '
                 'grant it to a role created later that needs temporary tables', db;
END
$$;

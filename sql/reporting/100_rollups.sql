-- Rollups: the aggregate reports of reporting_live, stored, so that analysts
-- read them in milliseconds whatever the size of the mirror.
--
-- For each name in the list below: reporting_live.<name> is the definition
-- (computed from the mirror when read), reporting_rollups.<name> a table of
-- its result and reporting.<name> the view analysts read, over that table.
-- `flask report refresh` (billing_app/reporting/rollups.py) recomputes every
-- rollup in one REPEATABLE READ transaction: readers keep seeing the previous
-- result, all of it, until the new one commits, and never wait for it.
--
-- The tables hold derived data only. `flask db init` makes a table again when
-- its definition's columns changed (keeping it, rows and all, otherwise), and
-- refreshes every rollup once the schema is committed.

CREATE TABLE IF NOT EXISTS reporting_rollups.refreshes (
    rollup text PRIMARY KEY,
    refreshed_at timestamptz,         -- the moment of the mirror the rollup was computed from
    mirror_synced_at timestamptz,     -- the newest mirror write that moment held
    refresh_seconds numeric,
    rows bigint
);

DO $$
DECLARE
    rollups text[] := ARRAY['data_quality', 'monthly_movements', 'mrr_by_product', 'mrr_summary', 'past_due',
                            'subscription_status_counts'];
    name text;
BEGIN
    -- a rollup no longer in the list goes, with its view
    FOR name IN SELECT c.relname FROM pg_class c
                 WHERE c.relnamespace = 'reporting_rollups'::regnamespace AND c.relkind = 'r'
                   AND c.relname <> 'refreshes' AND c.relname <> ALL (rollups) LOOP
        EXECUTE format('DROP TABLE reporting_rollups.%I CASCADE', name);
    END LOOP;
    DELETE FROM reporting_rollups.refreshes WHERE rollup <> ALL (rollups);

    FOREACH name IN ARRAY rollups LOOP
        -- A table whose columns still match its definition keeps its rows (analysts
        -- go on reading them until `flask db init` has refreshed them); otherwise it
        -- is made again, empty and marked never refreshed.
        IF (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
              FROM pg_attribute a
             WHERE a.attrelid = to_regclass(format('reporting_rollups.%I', name)) AND a.attnum > 0
               AND NOT a.attisdropped)
           IS DISTINCT FROM
           (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
              FROM pg_attribute a
             WHERE a.attrelid = format('reporting_live.%I', name)::regclass AND a.attnum > 0
               AND NOT a.attisdropped)
        THEN
            EXECUTE format('DROP VIEW IF EXISTS reporting.%I CASCADE', name);
            EXECUTE format('DROP TABLE IF EXISTS reporting_rollups.%I CASCADE', name);
            EXECUTE format('CREATE TABLE reporting_rollups.%I AS SELECT * FROM reporting_live.%I WITH NO DATA',
                           name, name);
            DELETE FROM reporting_rollups.refreshes WHERE rollup = name;
        END IF;
        -- the analysts' view over it (every reporting view is made again on each run: 000_schema.sql)
        EXECUTE format('CREATE OR REPLACE VIEW reporting.%I AS SELECT * FROM reporting_rollups.%I', name, name);
        EXECUTE format('COMMENT ON VIEW reporting.%I IS %L', name,
                       obj_description(format('reporting_live.%I', name)::regclass, 'pg_class')
                       || ' Precomputed: as of the last `flask report refresh` (see reporting.rollup_freshness); '
                       || format('reporting_live.%I computes the same now.', name));
        INSERT INTO reporting_rollups.refreshes (rollup) VALUES (name) ON CONFLICT (rollup) DO NOTHING;
    END LOOP;
END
$$;

CREATE OR REPLACE VIEW reporting.rollup_freshness AS
SELECT rollup,
       refreshed_at,
       mirror_synced_at,
       refresh_seconds,
       rows,
       date_trunc('second', now() - refreshed_at) AS age
  FROM reporting_rollups.refreshes;

COMMENT ON VIEW reporting.rollup_freshness IS
    'One row per precomputed report: when `flask report refresh` last computed it (refreshed_at, NULL if never), the newest mirror write it saw (mirror_synced_at: the sync service''s time where the source records one, else the newest object''s created time), how long it took, how many rows it has, and its age now.';

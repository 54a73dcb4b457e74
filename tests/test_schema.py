"""`flask db init`: idempotent, all-or-nothing, and the roles it creates."""

import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from billing_app.schema import MIRROR_FILE, SQL_DIR, SchemaError, apply_schema, schema_files
from billing_app.reporting.rollups import RefreshError
from billing_app.schema.dependents import DependentsError, check_nothing_dropped, objects_outside
from tests.conftest import invoke_cli

MIRROR_TABLES = {"customer", "subscription", "subscription_item", "price", "product", "plan", "invoice",
                 "payment_method"}

CATALOG_SNAPSHOT = """
SELECT 'column', table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
  FROM information_schema.columns WHERE table_schema IN ('stripe', 'billing_app')
UNION ALL
SELECT 'index', schemaname || '.' || indexname || ' ' || indexdef
  FROM pg_indexes WHERE schemaname IN ('stripe', 'billing_app')
UNION ALL
SELECT 'constraint', conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace::regnamespace::text IN ('stripe', 'billing_app')
UNION ALL
SELECT 'acl', n.nspname || '.' || c.relname || ' ' || coalesce(c.relacl::text, '')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('stripe', 'billing_app', 'reporting', 'billing_mirror')
UNION ALL
SELECT 'schema', nspname || ' ' || coalesce(nspacl::text, '') FROM pg_namespace
 WHERE nspname IN ('stripe', 'billing_app', 'reporting', 'billing_mirror')
UNION ALL
SELECT 'view', schemaname || '.' || viewname || ' ' || definition FROM pg_views
 WHERE schemaname IN ('reporting', 'billing_mirror')
UNION ALL
SELECT 'comment', c.relname || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '')
  FROM pg_class c WHERE c.relnamespace = 'reporting'::regnamespace
UNION ALL
SELECT 'function', p.oid::regprocedure::text || ' ' || md5(p.prosrc) FROM pg_proc p
 WHERE p.pronamespace IN ('reporting'::regnamespace, 'billing_mirror'::regnamespace)
UNION ALL
SELECT 'role', rolname || ' ' || rolcanlogin FROM pg_roles WHERE rolname LIKE 'billing\\_%'
ORDER BY 1, 2
"""


def snapshot(url):
    with psycopg.connect(url) as conn:
        return conn.execute(CATALOG_SNAPSHOT).fetchall()


@pytest.mark.parametrize("source", ["sequin", "supabase-sync-engine", "stripe-sync-engine"])
def test_files_apply_in_fixed_order_with_the_sources_adapter_and_mirror_only_when_asked(source):
    names = [str(f.relative_to(SQL_DIR)) for f in schema_files(source, with_mirror=True)]
    assert names[:6] == [MIRROR_FILE, "020_app_schema.sql", "030_roles.sql", "mirror/010_shape.sql",
                         f"sources/{source}/010_adapter.sql", f"sources/{source}/020_indexes.sql"]
    assert names[6] == "mirror/020_views.sql"
    assert MIRROR_FILE not in [f.name for f in schema_files(source)]
    reporting = [name for name in names if name.startswith("reporting/")]
    assert names[7:] == reporting and reporting[0] == "reporting/000_schema.sql"
    assert reporting[-1] == "reporting/999_grants.sql"


def test_db_init_twice_changes_nothing_the_second_time(scratch_database):
    apply_schema(scratch_database, with_mirror=True)
    first = snapshot(scratch_database)
    apply_schema(scratch_database, with_mirror=True)
    assert snapshot(scratch_database) == first
    apply_schema(scratch_database, with_mirror=False)
    assert snapshot(scratch_database) == first
    tables = {row[1].split(".")[1] for row in first if row[0] == "column" and row[1].startswith("stripe.")}
    assert tables == MIRROR_TABLES


def test_db_init_without_mirror_refuses_and_writes_nothing(scratch_database):
    with pytest.raises(SchemaError, match=r'the mirror tables \(schema "stripe"\) are not in this database'):
        apply_schema(scratch_database, with_mirror=False)
    with psycopg.connect(scratch_database) as conn:
        assert conn.execute("SELECT to_regnamespace('billing_app')").fetchone()[0] is None


def test_flask_db_init_command_reports_each_file(runner):
    result = runner.invoke(args=["db", "init"])
    assert result.exit_code == 0, result.output
    assert "mirror source: sequin" in result.output
    assert "applied 020_app_schema.sql" in result.output
    assert "applied sources/sequin/010_adapter.sql" in result.output
    assert "applied 010_stripe_mirror.sql" not in result.output
    assert result.output.splitlines()[-2:][0] == "database schema is up to date"
    assert result.output.splitlines()[-1].startswith("refreshed the 6 precomputed reports in ")


def test_flask_db_init_on_unreachable_database_fails_with_clear_message(app_config):
    result = invoke_cli({**app_config, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "db", "init")
    assert result.exit_code == 1
    assert "Error: cannot connect to the database:" in result.output


def test_mirror_has_sequin_foreign_key_names(owner_conn):
    names = {row[0] for row in owner_conn.execute(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'stripe'::regnamespace")}
    assert {"subscription_customer_id_fk", "subscription_item_subscription_id_fk",
            "subscription_item_price_id_fk", "price_product_id_fk", "invoice_customer_id_fk"} <= names


def as_role(conn, role):
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize("statement", [
    "INSERT INTO stripe.customer (id) VALUES ('cus_evil')",
    "UPDATE stripe.customer SET email = 'x@example.com'",
    "DELETE FROM stripe.subscription",
    "TRUNCATE stripe.invoice",
])
@pytest.mark.parametrize("role", ["billing_service", "billing_reporting"])
def test_app_and_reporting_roles_cannot_write_the_mirror(owner_conn, role, statement):
    as_role(owner_conn, role)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        owner_conn.execute(statement)


def test_service_role_reads_mirror_and_writes_its_own_schema(owner_conn, mirror):
    mirror.customer("cus_1", user_id=1)
    as_role(owner_conn, "billing_service")
    assert owner_conn.execute("SELECT id FROM stripe.customer").fetchall() == [("cus_1",)]
    owner_conn.execute("INSERT INTO billing_app.users (email, password_hash) VALUES ('a@example.com', 'x')")
    owner_conn.execute("UPDATE billing_app.users SET locale = 'de'")
    owner_conn.execute("DELETE FROM billing_app.users")


def test_reporting_role_cannot_read_users(owner_conn):
    as_role(owner_conn, "billing_reporting")
    owner_conn.execute("SELECT count(*) FROM stripe.subscription")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        owner_conn.execute("SELECT password_hash FROM billing_app.users")


def test_roles_cannot_log_in(owner_conn):
    rows = owner_conn.execute(
        "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('billing_service', 'billing_reporting')"
    ).fetchall()
    assert sorted(rows) == [("billing_reporting", False), ("billing_service", False)]


def test_app_connections_run_as_the_service_role(app):
    with app.extensions["billing_db"].connection() as conn:
        assert conn.execute("SELECT current_user").fetchone()["current_user"] == "billing_service"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM stripe.customer")


TEAMS_VIEWS = """
SELECT c.relname, c.relkind, c.relispopulated, pg_get_viewdef(c.oid), c.reloptions, pg_get_userbyid(c.relowner),
       (SELECT array_agg(item::text ORDER BY item::text)  -- what each role may do (no ACL: the owner's defaults)
          FROM unnest(coalesce(c.relacl, acldefault('r', c.relowner))) AS item),
       obj_description(c.oid, 'pg_class'), col_description(c.oid, 1),
       (SELECT array_agg(pg_get_indexdef(i.indexrelid)) FROM pg_index i WHERE i.indrelid = c.oid)
  FROM pg_class c WHERE c.relnamespace = 'analytics'::regnamespace AND c.relkind IN ('v', 'm')
 ORDER BY c.relname
"""


COLUMN_GRANTS = """
SELECT a.attname, a.attacl::text FROM pg_attribute a
 WHERE a.attrelid = 'analytics.reachable'::regclass AND a.attacl IS NOT NULL ORDER BY a.attnum
"""


@pytest.fixture
def analytics(scratch_database):
    """A database with the schema, a schema "analytics" of the team's own and a role that owns its views
    (roles are the server's: each test's its own, dropped afterwards)."""
    apply_schema(scratch_database, with_mirror=True)
    owner = f"analytics_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("GRANT billing_reporting TO {}").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("CREATE SCHEMA analytics AUTHORIZATION {}").format(sql.Identifier(owner)))
        yield conn, owner
        conn.execute("DROP SCHEMA analytics CASCADE")
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))


def test_a_teams_views_built_on_ours_are_made_again_as_they_were(scratch_database, analytics, app_config):
    conn, owner = analytics
    reader = f"{owner}_reader"
    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(reader)))
    try:
        conn.execute(sql.SQL("""
            CREATE VIEW analytics.mrr_by_currency WITH (security_barrier = true) AS
                SELECT currency, sum(mrr_minor_units) AS mrr FROM reporting.mrr GROUP BY currency;
            COMMENT ON VIEW analytics.mrr_by_currency IS 'the board''s figure';
            COMMENT ON COLUMN analytics.mrr_by_currency.currency IS 'ISO code';
            CREATE VIEW analytics.big_currencies AS SELECT * FROM analytics.mrr_by_currency WHERE mrr > 100;
            CREATE VIEW analytics.reachable AS SELECT id, email FROM billing_mirror.customers WHERE email LIKE '%@%';
            CREATE MATERIALIZED VIEW analytics.summary AS SELECT * FROM reporting.mrr_summary;
            CREATE INDEX summary_currency ON analytics.summary (currency);
            CREATE MATERIALIZED VIEW analytics.not_filled AS SELECT status FROM reporting.active_subscriptions
                WITH NO DATA;
            GRANT SELECT ON analytics.mrr_by_currency TO billing_reporting WITH GRANT OPTION;
            GRANT SELECT ON analytics.reachable TO PUBLIC;
            GRANT SELECT (email) ON analytics.reachable TO {reader};
            -- what this login creates there from now on is readable by the reader (Supabase's anon, say)
            ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO {reader};
        """).format(reader=sql.Identifier(reader)))
        for name in ("mrr_by_currency", "big_currencies", "reachable", "summary", "not_filled"):
            kind = "MATERIALIZED VIEW" if name in ("summary", "not_filled") else "VIEW"
            conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(
                sql.SQL(kind), sql.Identifier("analytics", name), sql.Identifier(owner)))
        # the owner keeps only SELECT of its own view
        conn.execute(sql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON analytics.big_currencies FROM {}").format(
            sql.Identifier(owner)))
        before = conn.execute(TEAMS_VIEWS).fetchall()
        assert len(before) == 5 and all(row[5] == owner for row in before)

        result = invoke_cli({**app_config, "DATABASE_URL": scratch_database}, "db", "upgrade")

        assert result.exit_code == 0, result.output
        assert conn.execute(TEAMS_VIEWS).fetchall() == before
        assert conn.execute(COLUMN_GRANTS).fetchall() == [("email", f"{{{reader}=r/{owner}}}")]
        for kind, name in (("view", "big_currencies"), ("view", "mrr_by_currency"), ("view", "reachable"),
                           ("materialized view", "summary"), ("materialized view", "not_filled")):
            assert f"note: made your {kind} analytics.{name} again (it is built on billing_app's views" \
                in result.output
        assert "note: refreshed your materialized view analytics.summary" in result.output
        assert "refreshed your materialized view analytics.not_filled" not in result.output
        assert conn.execute("SELECT count(*) FROM analytics.big_currencies").fetchone() == (0,)
    finally:
        conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA analytics REVOKE ALL ON TABLES FROM {}").format(
            sql.Identifier(reader)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(reader)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(reader)))


def test_a_teams_materialized_view_is_filled_by_its_owner_not_by_the_run(scratch_database, analytics):
    """The run's login (a superuser, often) never runs a team's code: the materialized view is made
    empty and refreshed as its owner, as REFRESH does."""
    conn, owner = analytics
    conn.execute(sql.SQL("""
        CREATE FUNCTION analytics.who() RETURNS text LANGUAGE sql AS $$ SELECT current_user::text $$;
        CREATE MATERIALIZED VIEW analytics.who_filled AS SELECT analytics.who(), count(*) FROM reporting.mrr;
        ALTER FUNCTION analytics.who() OWNER TO {owner};
        ALTER MATERIALIZED VIEW analytics.who_filled OWNER TO {owner};
        REFRESH MATERIALIZED VIEW analytics.who_filled;
    """).format(owner=sql.Identifier(owner)))
    assert conn.execute("SELECT who FROM analytics.who_filled").fetchone() == (owner,)
    result = apply_schema(scratch_database, with_mirror=False)
    assert "refreshed your materialized view analytics.who_filled" in result.notes
    assert conn.execute("SELECT who FROM analytics.who_filled").fetchone() == (owner,)


def test_a_view_that_no_longer_fits_stops_the_run_and_nothing_changes(scratch_database, analytics):
    conn, _ = analytics
    # a report an earlier version had and this one has not
    conn.execute("CREATE VIEW reporting.retired AS SELECT id FROM billing_mirror.customers")
    conn.execute("CREATE VIEW analytics.on_retired AS SELECT count(*) FROM reporting.retired")
    with pytest.raises(SchemaError, match=r"the view analytics.on_retired is built on billing_app's views and "
                       r"cannot be made again on this version \(relation \"reporting.retired\" does not exist\): "
                       r"change or drop it, then run this again; nothing was changed"):
        apply_schema(scratch_database, with_mirror=False)
    assert conn.execute("SELECT to_regclass('analytics.on_retired'), to_regclass('reporting.retired')"
                        ).fetchone() == ("analytics.on_retired", "reporting.retired")


def test_what_cannot_be_made_again_stops_the_run_before_anything_is_dropped(scratch_database, analytics):
    conn, _ = analytics
    conn.execute("""
        CREATE TABLE analytics.snapshots (taken date, customer billing_mirror.customer);
        INSERT INTO analytics.snapshots VALUES (current_date, ROW('cus_1', 'a@example.com', NULL, NULL, NULL,
                                                                 NULL, false, false, NULL, NULL));
        CREATE TABLE analytics.kept_rows AS SELECT now() AS taken, array_agg(m) AS rows FROM reporting.mrr m;
        CREATE VIEW analytics.paying AS SELECT customer_id FROM reporting.mrr;
        CREATE FUNCTION analytics.paying_rows() RETURNS SETOF analytics.paying LANGUAGE sql
            BEGIN ATOMIC SELECT * FROM analytics.paying; END;
        CREATE FUNCTION analytics.count_paying(analytics.paying[]) RETURNS int LANGUAGE plpgsql
            AS $$ BEGIN RETURN cardinality($1); END $$;
    """)
    with pytest.raises(SchemaError) as raised:
        apply_schema(scratch_database, with_mirror=False)
    message = str(raised.value)
    assert message.startswith("these objects depend on billing_app's views, which this run makes again, "
                              "and would be dropped with them: ")
    assert "column customer of table analytics.snapshots" in message
    assert "function analytics.paying_rows()" in message
    assert "column rows of table analytics.kept_rows" in message  # an array of a view's rows
    assert "function analytics.count_paying(analytics.paying[])" in message
    assert message.endswith("Drop them first and create them again afterwards; nothing was changed")
    assert conn.execute("SELECT (customer).email FROM analytics.snapshots").fetchone() == ("a@example.com",)


def test_a_trigger_on_a_teams_view_stops_the_run(scratch_database, analytics):
    conn, _ = analytics
    conn.execute("""
        CREATE VIEW analytics.customers AS SELECT id, email FROM billing_mirror.customers;
        CREATE FUNCTION analytics.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
        CREATE TRIGGER no_writes INSTEAD OF INSERT ON analytics.customers
            FOR EACH ROW EXECUTE FUNCTION analytics.refuse();
    """)
    with pytest.raises(SchemaError, match=r"would be dropped with them: trigger no_writes on view "
                                          r"analytics.customers \(the view is built on billing_app's views\)"):
        apply_schema(scratch_database, with_mirror=False)


def test_whatever_else_the_run_drops_outside_our_schemas_stops_it(scratch_database, analytics):
    """The last guard: every object outside billing_app's schemas is counted before the files run and
    after; one gone (by a kind of dependency the reading before did not foresee) rolls the run back."""
    conn, _ = analytics
    conn.execute("CREATE TABLE analytics.board (figure int); CREATE TABLE analytics.partition_of_may (n int)")
    with psycopg.connect(scratch_database) as run:
        before = objects_outside(run)
        run.execute("DROP TABLE analytics.board")
        conn.execute("DROP TABLE analytics.partition_of_may")  # another session's doing, not the run's
        with pytest.raises(DependentsError, match=r"would be dropped with them: column figure of table "
                                                  r"analytics.board; table analytics.board\."):
            check_nothing_dropped(run, scratch_database, before)
        # without a second connection to tell them apart (a connection limit), both count
        with pytest.raises(DependentsError, match=r"would be dropped with them: column figure of table "
                                                  r"analytics.board; column n of table analytics.partition_of_may"):
            check_nothing_dropped(run, "host=/nonexistent dbname=none", before)


def test_the_last_guard_reads_names_whatever_the_logins_search_path(scratch_database):
    """A login whose search_path starts with billing_app (a role named billing_app, say): billing_app.users
    made by the run hides public.users, whose name must not change in the guard's eyes."""
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.users (id int)")
    apply_schema(make_conninfo(scratch_database, options="-c search_path=billing_app,public"), with_mirror=True)


def test_a_teams_materialized_view_is_refreshed_even_when_the_reports_refresh_fails(scratch_database, analytics,
                                                                                  monkeypatch):
    import billing_app.schema as schema
    conn, _ = analytics
    conn.execute("CREATE MATERIALIZED VIEW analytics.board AS SELECT count(*) FROM reporting.mrr")

    def failing(*args, **kwargs):
        raise RefreshError("canceling statement due to statement timeout")
    monkeypatch.setattr(schema, "refresh_rollups", failing)
    with pytest.raises(SchemaError, match=r"the schema is up to date, but refreshing the precomputed reports "
                                          r"failed: canceling statement due to statement timeout; run `flask report "
                                          r"refresh`") as raised:
        apply_schema(scratch_database, with_mirror=False)
    assert "made your materialized view analytics.board again (it is built on billing_app's views, which this run " \
           "made again)" in raised.value.notes  # what the run did, told beside the error
    assert "refreshed your materialized view analytics.board" in raised.value.notes
    assert conn.execute("SELECT relispopulated FROM pg_class WHERE oid = 'analytics.board'::regclass"
                        ).fetchone() == (True,)


def test_views_reading_each_other_in_a_circle_stop_the_run(scratch_database, analytics):
    conn, _ = analytics
    conn.execute("""
        CREATE VIEW analytics.a AS SELECT customer_id FROM reporting.mrr;
        CREATE VIEW analytics.b AS SELECT customer_id FROM analytics.a;
        CREATE OR REPLACE VIEW analytics.a AS SELECT customer_id FROM reporting.mrr
            UNION ALL SELECT customer_id FROM analytics.b;
    """)
    with pytest.raises(SchemaError, match="views built on billing_app's views read each other in a circle"):
        apply_schema(scratch_database, with_mirror=False)


def test_a_login_that_could_not_make_a_teams_view_again_is_told_what_it_needs(postgres_server_url, database_url):
    """The README's set-up: `flask db init` run by the database's owner, not a superuser; an analyst's
    view in a schema of the analyst's.  (``database_url``: billing_app's roles exist on the server, made
    by a superuser, as on a server where another database has them.)"""
    suffix = uuid.uuid4().hex[:6]
    dbo, alice, name = f"dbo_{suffix}", f"alice_{suffix}", f"billing_app_test_dbo_{suffix}"
    with psycopg.connect(postgres_server_url, autocommit=True) as server:
        server.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(dbo)))
        server.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(alice)))
        server.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(dbo)))
        # since PostgreSQL 16 a CREATEROLE login grants only the roles it was given with ADMIN (or made)
        for role in ("billing_service", "billing_reporting", "billing_refresh"):
            server.execute(sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(sql.Identifier(role), sql.Identifier(dbo)))
    url = make_conninfo(postgres_server_url, dbname=name)
    as_dbo = make_conninfo(url, user=dbo)
    try:
        apply_schema(as_dbo, with_mirror=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("""
                GRANT billing_reporting TO {alice};
                CREATE SCHEMA analytics AUTHORIZATION {alice};
                SET ROLE {alice};
                CREATE VIEW analytics.board AS SELECT currency, sum(mrr_minor_units) FROM reporting.mrr GROUP BY 1;
                RESET ROLE;
            """).format(alice=sql.Identifier(alice)))
            with pytest.raises(SchemaError, match=rf"the view analytics.board \(owned by {alice}\) is built on "
                               rf"billing_app's views, which this run makes again; to make it again too, {dbo} "
                               rf"needs CREATE on schema analytics and membership in role {alice} with its privileges "
                               r"\(INHERIT, and SET on PostgreSQL 16 and later\) \(or drop the view first and create "
                               r"it again afterwards\); nothing was changed"):
                apply_schema(as_dbo, with_mirror=False)
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA analytics TO {dbo}; GRANT {alice} TO {dbo}").format(
                dbo=sql.Identifier(dbo), alice=sql.Identifier(alice)))
            assert "made your view analytics.board again (it is built on billing_app's views, which this run " \
                   "made again)" in apply_schema(as_dbo, with_mirror=False).notes
            assert conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'analytics.board'::regclass"
                                ).fetchone() == (alice,)
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as server:
            server.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            server.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(alice)))
            if server.info.server_version >= 160000:  # the membership 030_roles.sql granted again, as dbo
                server.execute(sql.SQL("REVOKE billing_reporting FROM billing_refresh GRANTED BY {}").format(
                    sql.Identifier(dbo)))
            server.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(dbo)))

"""`flask db init`: idempotent, all-or-nothing, and the roles it creates."""

import psycopg
import pytest
from psycopg import sql

from billing_app.schema import MIRROR_FILE, SQL_DIR, SchemaError, apply_schema, schema_files
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

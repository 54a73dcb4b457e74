"""The three mirror sources: found from the tables, forced by STRIPE_MIRROR, each read through its adapter.

The engine databases are made by the real engines' migrations (tests/engines);
these tests check what `flask db init` adds beside them and that it never gets
in the way of the engines' own next migration.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import psycopg.rows
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from billing_app import create_app
from billing_app.account.summary import account_summary
from billing_app.doctor import required_indexes
from billing_app.mirror.source import SOURCES, SourceError, detect_source
from billing_app.schema import SchemaError, apply_schema
from tests.conftest import invoke_cli
from tests.stripe_stand_in import answer_portal_session

MIRROR_SOURCES = True  # every test here runs on each mirror source unless marked
ENGINES = ("supabase-sync-engine", "stripe-sync-engine")


@pytest.fixture
def scratch(scratch_database):
    """An empty database with an empty schema stripe: (its URL, an owner connection)."""
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA stripe")
        yield scratch_database, conn


SEQUIN_TABLE = "CREATE TABLE stripe.customer (id text PRIMARY KEY, metadata jsonb)"
SSE_048_TABLE = "CREATE TABLE stripe.customers (id text PRIMARY KEY, metadata jsonb)"
SSE_1_TABLE = "CREATE TABLE stripe.customers (_raw_data jsonb NOT NULL, id text PRIMARY KEY)"


# --- which source ----------------------------------------------------------------

@pytest.mark.sources("sequin")
@pytest.mark.parametrize("tables, found", [
    ([SEQUIN_TABLE], "sequin"),
    ([SSE_048_TABLE], "supabase-sync-engine"),
    ([SSE_1_TABLE], "stripe-sync-engine"),
])
def test_the_source_is_found_from_the_tables(scratch, tables, found):
    _, conn = scratch
    for statement in tables:
        conn.execute(statement)
    assert detect_source(conn).name == found


@pytest.mark.sources("sequin")
def test_two_mirrors_without_the_setting_is_an_error_that_says_so(scratch):
    _, conn = scratch
    conn.execute(SEQUIN_TABLE)
    conn.execute(SSE_1_TABLE)
    with pytest.raises(SourceError, match=r"the database holds two mirrors \(Sequin's Stripe sync and "
                                          r"@stripe/sync-engine 1.x\): set STRIPE_MIRROR to the one to read "
                                          r"\(sequin or stripe-sync-engine\)"):
        detect_source(conn)
    assert detect_source(conn, "stripe-sync-engine").name == "stripe-sync-engine"


@pytest.mark.sources("sequin")
def test_forcing_a_source_that_is_not_there_names_what_creates_it(scratch):
    _, conn = scratch
    conn.execute(SEQUIN_TABLE)
    with pytest.raises(SourceError, match=r"STRIPE_MIRROR=stripe-sync-engine but the database has no "
                                          r"@stripe/sync-engine 1.x tables \(stripe.customers with _raw_data\): "
                                          r"they are created by the engine's migrations .*; found sequin instead"):
        detect_source(conn, "stripe-sync-engine")


@pytest.mark.sources("sequin")
def test_db_init_refuses_two_mirrors_and_writes_nothing(scratch):
    url, conn = scratch
    conn.execute(SEQUIN_TABLE)
    conn.execute(SSE_048_TABLE)
    with pytest.raises(SchemaError, match="the database holds two mirrors"):
        apply_schema(url, with_mirror=False)
    assert conn.execute("SELECT to_regnamespace('billing_mirror'), to_regnamespace('billing_app')").fetchone() \
        == (None, None)


@pytest.mark.sources("sequin")
def test_db_init_with_mirror_flag_keeps_an_engines_database_as_it_is(scratch):
    url, conn = scratch
    conn.execute(SSE_048_TABLE)
    with pytest.raises(SchemaError, match="--mirror creates Sequin's shape, but STRIPE_MIRROR=supabase-sync-engine"):
        apply_schema(url, with_mirror=True, source="supabase-sync-engine")
    with pytest.raises(SchemaError, match=r"020_adapter|010_adapter"):  # 0.48's tables are incomplete here
        apply_schema(url, with_mirror=True)
    assert conn.execute("SELECT to_regclass('stripe.customer')").fetchone()[0] is None


@pytest.mark.sources("sequin")
def test_unknown_stripe_mirror_value_stops_start_up_listing_the_valid_ones(app_config):
    with pytest.raises(SystemExit) as stopped:
        create_app({**app_config, "STRIPE_MIRROR": "fivetran"})
    assert str(stopped.value) == ("billing_app: STRIPE_MIRROR='fivetran' is invalid: it is not one of sequin, "
                                  "supabase-sync-engine, stripe-sync-engine; expected sequin, "
                                  "supabase-sync-engine or stripe-sync-engine (unset: found from the tables)")


def test_start_up_finds_the_source_and_its_adapter(make_app, app_config, source):
    make_app({k: v for k, v in app_config.items() if k != "TESTING"})  # runs the start-up check a server runs
    with psycopg.connect(app_config["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT billing_mirror.source()").fetchone()[0] == source


@pytest.mark.sources("sequin")
def test_start_up_stops_when_the_adapter_is_for_another_source(app_config, owner_conn):
    owner_conn.execute("CREATE OR REPLACE FUNCTION billing_mirror.source() RETURNS text LANGUAGE sql "
                       "IMMUTABLE AS $$ SELECT 'stripe-sync-engine' $$")
    try:
        config = {k: v for k, v in app_config.items() if k != "TESTING"}
        with pytest.raises(SystemExit, match="billing_app: the database holds Sequin's Stripe sync's tables but "
                                             "`flask db init` has prepared the app for stripe-sync-engine: "
                                             "run `flask db init`"):
            create_app(config)
    finally:
        apply_schema(app_config["DATABASE_URL"], with_mirror=True)


# --- the adapters beside the engines ------------------------------------------------

@pytest.mark.sources(*ENGINES)
def test_the_engines_own_migrations_still_run_after_db_init(mirror_databases, database_url, source, owner_conn):
    feeder = mirror_databases.feeders[source]
    assert feeder.call({"cmd": "migrate"})["ok"]
    apply_schema(database_url, with_mirror=False)
    assert feeder.call({"cmd": "migrate"})["ok"]
    # and nothing of ours depends on the engine's columns: its next migration may retype or drop any of them
    # but those our lookup indexes read (an index is rebuilt with the column, and must still apply)
    indexed = {(row[0], row[1]) for row in owner_conn.execute(
        """SELECT t.relname, a.attname FROM pg_class i JOIN pg_depend d ON d.objid = i.oid AND d.refobjsubid > 0
             JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
            WHERE i.relname LIKE 'billing_app\\_%' AND i.relkind = 'i'""")}
    assert ("subscriptions", "customer") in indexed or ("subscriptions", "_raw_data") in indexed
    with owner_conn.transaction(force_rollback=True):
        for table in SOURCES[source].tables:
            for column, generated in engine_columns(owner_conn, table):
                if (table, column) not in indexed and not generated:
                    owner_conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE text USING {}::text").format(
                        sql.Identifier("stripe", table), sql.Identifier(column), sql.Identifier(column)))
    with owner_conn.transaction(force_rollback=True):
        for table in SOURCES[source].tables:
            for column, _ in engine_columns(owner_conn, table):
                owner_conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(  # RESTRICT: fails on a view of ours
                    sql.Identifier("stripe", table), sql.Identifier(column)))
        assert owner_conn.execute("SELECT count(*) FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
                                  "JOIN pg_class v ON v.oid = r.ev_class "
                                  "WHERE v.relnamespace IN ('billing_mirror'::regnamespace, "
                                  "'reporting'::regnamespace) AND d.refobjid IN "
                                  "(SELECT oid FROM pg_class WHERE relnamespace = 'stripe'::regnamespace)"
                                  ).fetchone()[0] == 0


def test_db_init_beside_an_analyze_of_the_mirror_is_no_deadlock(database_url, source, owner_conn):
    """An ANALYZE (autovacuum's, or the sync service's) holds its lock on a table and, at its end,
    writes the table's row in pg_class. `flask db init` rewrites those rows (privileges) and then
    indexes some of the tables: taken in that order the two wait for each other (CI's failure of
    2026-12-05, 'deadlock detected' in 020_indexes.sql). Here the ANALYZE's two steps are played by
    hand: its lock first, its pg_class write once db init waits."""
    invoices = sql.Identifier("stripe", SOURCES[source].table("invoice"))
    with ThreadPoolExecutor(1) as pool:
        with psycopg.connect(database_url) as analyze:
            analyze.execute(sql.SQL("LOCK TABLE {} IN SHARE UPDATE EXCLUSIVE MODE").format(invoices))
            db_init = pool.submit(apply_schema, database_url, with_mirror=False)
            wait_until_blocked_by(owner_conn, analyze.info.backend_pid)
            analyze.execute("UPDATE pg_class SET reltuples = reltuples WHERE oid = %s::regclass",
                            (invoices.as_string(analyze),))  # deadlock detected here, or in db init
        assert db_init.result(timeout=60).source == source


def test_db_init_stops_when_a_mirror_table_stays_busy(database_url, source, owner_conn, monkeypatch):
    monkeypatch.setattr("billing_app.schema.MIRROR_LOCK_TIMEOUT", "100ms")
    invoices = sql.Identifier("stripe", SOURCES[source].table("invoice"))
    with psycopg.connect(database_url) as sync_service:
        sync_service.execute(sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE").format(invoices))  # a long write
        with pytest.raises(SchemaError) as stopped:  # (a statement timeout: a run that waits fails, not hangs)
            apply_schema(make_conninfo(database_url, options="-c statement_timeout=20s"), with_mirror=False)
    assert str(stopped.value) == ("the mirror's tables stayed busy for 100ms (a long write by the sync service, "
                                  "or a VACUUM): nothing was changed; run `flask db init` again")
    assert apply_schema(database_url, with_mirror=False).source == source  # once the write is done


@pytest.mark.sources(*ENGINES)
def test_db_init_while_the_engine_writes_loses_no_write(database_url, source, mirror, owner_conn):
    """`flask db init` against a mirror the real engine keeps writing: every run goes through, and
    every event the engine took while it ran is in the tables afterwards."""
    mirror.product("prod_live", "Live")
    mirror.price("price_live", "prod_live")
    stop = threading.Event()

    def engine_busy() -> int:  # a customer, a subscription and an invoice at a time, until told to stop
        n = 0
        while not stop.is_set() or n < 3:
            n += 1
            mirror.customer(f"cus_live_{n}", n)
            mirror.subscription(f"sub_live_{n}", f"cus_live_{n}", items=[("price_live", 1)])
            mirror.invoice(f"in_live_{n}", f"cus_live_{n}", subscription_id=f"sub_live_{n}")
        return n

    with ThreadPoolExecutor(1) as pool:
        writes = pool.submit(engine_busy)
        try:
            for _ in range(3):
                assert apply_schema(database_url, with_mirror=False).source == source
        finally:
            stop.set()
        written = writes.result(timeout=120)
    for kind in ("customer", "subscription", "invoice"):
        table = sql.Identifier("stripe", SOURCES[source].table(kind))
        assert owner_conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE id LIKE %s").format(table),
                                  ("%_live_%",)).fetchone()[0] == written, kind


def wait_until_blocked_by(conn, pid: int) -> None:
    """Until another session of the database waits for a lock on a table the session ``pid`` holds."""
    for _ in range(500):
        if conn.execute("SELECT count(*) FROM pg_locks w JOIN pg_locks h USING (database, relation) "
                        "WHERE NOT w.granted AND h.granted AND h.pid = %s AND w.pid <> h.pid", (pid,)).fetchone()[0]:
            return
        time.sleep(0.01)
    pytest.fail(f"nothing waited for a lock of session {pid}")


def engine_columns(conn, table):
    """(name, generated) of the engine's table's columns, but the id, _raw_data and _account_id."""
    return conn.execute("SELECT attname, attgenerated <> '' FROM pg_attribute WHERE attrelid = %s::regclass "
                        "AND attnum > 0 AND NOT attisdropped AND attname NOT IN ('id', '_raw_data', '_account_id')",
                        (f"stripe.{table}",)).fetchall()


def test_our_indexes_on_the_sources_tables_are_all_there(owner_conn, source):
    wanted = required_indexes(SOURCES[source])
    present = {row[0] for row in owner_conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'stripe'")}
    assert len(wanted) == 7 and set(wanted) <= present
    if source != "sequin":  # in an engine's schema, clearly ours
        assert all(name.startswith("billing_app_") for name in wanted)


def test_postgresql_may_read_the_mirror_in_parallel(owner_conn, source):
    """The adapters' functions only read, and say so (PARALLEL SAFE): one unsafe function anywhere in
    a query keeps all of it on one core, a live report's million-row join included."""
    owner_conn.execute("SET parallel_setup_cost = 0")
    owner_conn.execute("SET parallel_tuple_cost = 0")
    owner_conn.execute("SET min_parallel_table_scan_size = 0")
    owner_conn.execute("SET max_parallel_workers_per_gather = 2")
    # the plan must not depend on the statistics of the emptied tables (a table analysed since its
    # TRUNCATE costs nothing to scan, and a parallel plan is then no cheaper): this mode puts a
    # Gather on top of any plan that may run in parallel
    mode = "debug_parallel_query" if owner_conn.info.server_version >= 160000 else "force_parallel_mode"
    owner_conn.execute(f"SET {mode} = on")
    plan = "\n".join(row[0] for row in owner_conn.execute(
        "EXPLAIN SELECT s.status, count(*) FROM billing_mirror.subscriptions s "
        "JOIN billing_mirror.customers c ON c.id = s.customer_id GROUP BY s.status"))
    assert "Gather" in plan, plan


def test_the_roles_read_exactly_the_sources_tables(owner_conn, source):
    readable = {(role, table) for role, table in owner_conn.execute(
        """SELECT r.rolname, c.relname FROM pg_class c CROSS JOIN pg_roles r
            WHERE c.relnamespace = 'stripe'::regnamespace AND c.relkind IN ('r', 'v')
              AND r.rolname IN ('billing_service', 'billing_reporting')
              AND has_table_privilege(r.oid, c.oid, 'SELECT')""")}
    assert readable == {(role, table) for role in ("billing_service", "billing_reporting")
                        for table in SOURCES[source].tables}


@pytest.mark.sources("stripe-sync-engine")
def test_engine_secrets_are_not_readable_by_the_app_or_analysts(owner_conn):
    for role in ("billing_service", "billing_reporting"):
        owner_conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        for table in ("_managed_webhooks", "accounts"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                owner_conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("stripe", table)))
        owner_conn.execute("RESET ROLE")


class ExplainingConnection:
    """Wraps a connection: records the plan of every query before running it."""

    def __init__(self, conn):
        self.conn = conn
        self.plans = []

    def pipeline(self):
        return self.conn.pipeline()

    def execute(self, query, params=None):
        from psycopg import sql
        explain = sql.SQL("EXPLAIN (FORMAT JSON) ") + (query if isinstance(query, sql.Composable) else sql.SQL(query))
        plan = self.conn.execute(explain, params).fetchone()
        self.plans.append((query, plan["QUERY PLAN"]))
        return self.conn.execute(query, params)


def seq_scanned(node, found=None):
    found = set() if found is None else found
    if node.get("Node Type") == "Seq Scan":
        found.add(node["Relation Name"])
    for child in node.get("Plans", []):
        seq_scanned(child, found)
    return found


def test_the_account_page_reads_the_mirror_in_one_statement_through_indexes_only(app, mirror, owner_conn, source):
    """One statement for the page's data; with sequential scans priced out, any left in its plan is a
    lookup no index serves."""
    owner_conn.execute("INSERT INTO billing_app.users (email, password_hash) VALUES ('me@example.com', 'x')")
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.customer("cus_me", 1, email="me@example.com")
    mirror.payment_method("pm_1", "cus_me")
    mirror.subscription("sub_1", "cus_me", default_payment_method_id="pm_1")
    mirror.invoice("in_1", "cus_me", subscription_id="sub_1")
    with app.extensions["billing_db"].connection() as conn:
        conn.execute("SET enable_seqscan = off")
        explaining = ExplainingConnection(conn)
        summary = account_summary(explaining, 1)
    assert summary.customer_id == "cus_me" and summary.subscriptions and summary.invoices and summary.card
    assert len(explaining.plans) == 1  # the page's data, customer to invoices, is one statement
    for query, plan in explaining.plans:
        assert not seq_scanned(plan[0]["Plan"]) & set(SOURCES[source].tables), (query, json.dumps(plan, indent=1))


def test_another_customer_user_key_gets_its_own_index(mirror, owner_conn, database_url, source):
    """STRIPE_CUSTOMER_USER_KEY=supabase_user_id: `flask db init` indexes that key, and the lookup uses it."""
    from billing_app.mirror.customers import customer_for_user
    from billing_app.mirror.source import user_key_index
    apply_schema(database_url, with_mirror=False, user_key="supabase_user_id")
    name = user_key_index(SOURCES[source], "supabase_user_id")[0]
    assert owner_conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"stripe.{name}",)).fetchone()[0]
    mirror.customer("cus_other_key", None, metadata={"supabase_user_id": "u-1"})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.row_factory = psycopg.rows.dict_row
        conn.execute("SET enable_seqscan = off")
        explaining = ExplainingConnection(conn)
        assert customer_for_user(explaining, "u-1", user_key="supabase_user_id")["id"] == "cus_other_key"
    query, plan = explaining.plans[0]
    assert not seq_scanned(plan[0]["Plan"]) & {SOURCES[source].customers_table}, json.dumps(plan, indent=1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX stripe.{}").format(sql.Identifier(name)))


# --- doctor -----------------------------------------------------------------------------

def test_doctor_names_the_source_and_checks_its_tables_indexes_grants_and_sync_time(
        mirror, app_config, stripe_api, source):
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.customer("cus_me", 1)
    mirror.payment_method("pm_1", "cus_me")
    mirror.subscription("sub_1", "cus_me")
    mirror.invoice("in_1", "cus_me", subscription_id="sub_1")
    answer_portal_session(stripe_api)
    stripe_api.expect_request("/v1/billing_portal/configurations", method="GET").respond_with_json(
        {"object": "list", "data": [{"id": "bpc_1", "object": "billing_portal.configuration",
                                     "is_default": True, "active": True, "livemode": False}],
         "has_more": False, "url": "/v1/billing_portal/configurations"})
    result = invoke_cli(app_config, "billing", "doctor")
    lines = result.output.splitlines()
    label = SOURCES[source].label
    assert f"OK   mirror source: {label} ({source})" in lines
    for table in SOURCES[source].tables:
        assert f"OK   stripe.{table}: readable, has rows" in lines
    assert "OK   mirror indexes: all 7 present" in lines
    assert ("OK   mirror grants: billing_service and billing_reporting read exactly the 7 tables the adapter "
            "needs") in lines
    column = SOURCES[source].synced_at_column
    freshness = f"OK   mirror freshness: last synced row ({column}) is from" if column else \
        "OK   mirror freshness: newest mirrored row is from"
    assert any(line.startswith(freshness) for line in lines), result.output
    assert result.exit_code == 0, result.output


@pytest.mark.sources(*ENGINES)
def test_a_missing_table_fails_doctor_naming_what_creates_it_and_pages_answer_503(app_config, source, owner_conn,
                                                                                   auth):
    auth.signup("me@example.com", "correct horse battery")
    table = SOURCES[source].table("payment_method")
    owner_conn.execute(f"ALTER TABLE stripe.{table} RENAME TO {table}_away")  # noqa: S608 a known table
    try:
        page = auth.client.get("/account")
        api = auth.client.get("/api/billing/summary")
        result = invoke_cli(app_config, "billing", "doctor")
    finally:
        owner_conn.execute(f"ALTER TABLE stripe.{table}_away RENAME TO {table}")  # noqa: S608 a known table
    assert f"FAIL stripe.{table}: does not exist: it is created by the engine's migrations" in result.output
    assert result.exit_code == 1
    assert page.status_code == 503 and "Billing is temporarily unavailable" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "schema_missing"


@pytest.mark.sources("sequin")
def test_an_invalid_index_fails_doctor(app_config, owner_conn, database_url, stripe_api):
    from billing_app.demo import load_demo
    load_demo(database_url)
    index = "stripe.customer_metadata_user_id_idx"
    owner_conn.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (index,))
    try:
        result = invoke_cli(app_config, "billing", "doctor")
    finally:
        owner_conn.execute("UPDATE pg_index SET indisvalid = true WHERE indexrelid = %s::regclass", (index,))
    assert ("FAIL mirror indexes: customer_metadata_user_id_idx invalid (a CREATE INDEX CONCURRENTLY that failed): "
            "DROP INDEX stripe.<name>, then `flask db init`") in result.output


@pytest.mark.sources("sequin")
def test_a_role_without_its_grants_stops_start_up_and_pages_answer_503(app_config, owner_conn, database_url,
                                                                        auth):
    auth.signup("me@example.com", "correct horse battery")
    owner_conn.execute("REVOKE SELECT ON stripe.payment_method FROM billing_service")
    try:
        page = auth.client.get("/account")
        with pytest.raises(SystemExit) as stopped:
            create_app({k: v for k, v in app_config.items() if k != "TESTING"})
    finally:
        apply_schema(database_url, with_mirror=True)
    assert str(stopped.value).startswith("billing_app: the app's database role billing_service cannot read the "
                                         "mirror (permission denied for table payment_method): run `flask db init`")
    assert page.status_code == 503 and "Billing is temporarily unavailable" in page.get_data(as_text=True)

"""Issue 13, reporting role: an analyst cannot make a function to peek past a view's filter, and
even one who can (a role given TEMPORARY some other way) sees only the rows the view returns.

`flask db init` takes TEMPORARY from PUBLIC (every role holds it by default) and gives it back to
every existing role but billing_app's and the analysts; the views over the app's own schema are
security barriers, so a cheap "leaky" function in a query over them only sees what they return."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from billing_app.schema import apply_schema
from tests.conftest import invoke_cli

ANALYSTS_ROLE = ("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'billing_reporting') "
                 "THEN CREATE ROLE billing_reporting NOLOGIN; END IF; END $$")
LEAK = """CREATE FUNCTION pg_temp.leak(value text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
          BEGIN RAISE NOTICE 'saw %', value; RETURN true; END $$"""


@pytest.fixture
def make_role(postgres_server_url):
    """Login-less roles of the test's own (roles belong to the whole server), dropped afterwards."""
    made: list[str] = []

    def make(name: str, *grants: str) -> str:
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(ANALYSTS_ROLE)
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
            for grant in grants:
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(grant), sql.Identifier(name)))
        made.append(name)
        return name

    yield make
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        for name in made:  # DROP OWNED also revokes what the role was granted on databases
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_the_reporting_role_cannot_create_a_temporary_function(database_url, app_config):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET ROLE billing_reporting")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(LEAK)
    result = invoke_cli(app_config, "billing", "doctor")
    assert "OK   reporting role: billing_reporting cannot create temporary objects" in result.output.splitlines()


def test_db_init_moves_temporary_from_public_to_the_roles_that_had_it_but_analysts(scratch_database, make_role):
    application = make_role("billing_test_other_app")
    analyst = make_role("billing_test_analyst", "billing_reporting")
    first = apply_schema(scratch_database, with_mirror=True)
    again = apply_schema(scratch_database, with_mirror=True)
    with psycopg.connect(scratch_database) as conn:
        can = dict(conn.execute(
            "SELECT r, has_database_privilege(r, current_database(), 'TEMPORARY') FROM unnest(%s::text[]) r",
            ([application, analyst, "billing_reporting", "billing_refresh", "billing_service"],)).fetchall())
    assert can == {application: True, analyst: False, "billing_reporting": False, "billing_refresh": False,
                   "billing_service": False}
    assert any("moved from PUBLIC" in note for note in first.notes), first.notes
    assert again.notes == []  # done once: a second run changes nothing and says nothing


@pytest.mark.parametrize("view, column", [("reporting_live.data_quality", "object_id"),
                                          ("reporting_live.customer_link", "user_key")])
def test_a_leaky_function_sees_only_what_the_view_returns(database_url, mirror, owner_conn, view, column,
                                                          make_role):
    # an analyst who can make temporary functions anyway (granted TEMPORARY by someone)
    analyst = make_role("billing_test_leaky_analyst", "billing_reporting")
    owner_conn.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(
        sql.Identifier(owner_conn.info.dbname), sql.Identifier(analyst)))
    owner_conn.execute("INSERT INTO billing_app.users (email, password_hash) VALUES "
                       "('with@example.com', 'x'), ('without@example.com', 'x')")
    ids = [row[0] for row in owner_conn.execute("SELECT id FROM billing_app.users ORDER BY id")]
    mirror.customer("cus_with", ids[0])  # user 1 has a customer: data_quality does not list them
    seen: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda notice: seen.append(notice.message_primary))
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(analyst)))
        conn.execute(LEAK)
        rows = conn.execute(f"SELECT {column} FROM {view} WHERE pg_temp.leak({column}::text)").fetchall()  # noqa: S608
    returned = {f"saw {row[0]}" for row in rows}
    assert set(seen) <= returned, f"the function saw rows the view filters out: {set(seen) - returned}"
    if view.endswith("data_quality"):
        assert f"saw {ids[0]}" not in seen and f"saw {ids[1]}" in seen

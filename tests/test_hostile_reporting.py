"""Issue 13, reporting role: an analyst's own function cannot see rows a view filters out.

The views over the app's own schema are security barriers, so a cheap "leaky" function in a query
over them only ever sees the rows the view returns."""

from __future__ import annotations

import psycopg
import pytest

LEAK = """CREATE FUNCTION pg_temp.leak(value text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
          BEGIN RAISE NOTICE 'saw %', value; RETURN true; END $$"""


@pytest.mark.parametrize("view, column", [("reporting_live.data_quality", "object_id"),
                                          ("reporting_live.customer_link", "user_key")])
def test_a_leaky_function_sees_only_what_the_view_returns(database_url, mirror, owner_conn, view, column):
    owner_conn.execute("INSERT INTO billing_app.users (email, password_hash) VALUES "
                       "('with@example.com', 'x'), ('without@example.com', 'x')")
    ids = [row[0] for row in owner_conn.execute("SELECT id FROM billing_app.users ORDER BY id")]
    mirror.customer("cus_with", ids[0])  # user 1 has a customer: data_quality does not list them
    seen: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda notice: seen.append(notice.message_primary))
        conn.execute("SET ROLE billing_reporting")
        conn.execute(LEAK)
        rows = conn.execute(f"SELECT {column} FROM {view} WHERE pg_temp.leak({column}::text)").fetchall()  # noqa: S608
    returned = {f"saw {row[0]}" for row in rows}
    assert set(seen) <= returned, f"the function saw rows the view filters out: {set(seen) - returned}"
    if view.endswith("data_quality"):
        assert f"saw {ids[0]}" not in seen and f"saw {ids[1]}" in seen

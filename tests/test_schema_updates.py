"""Issue 15, schema updates: a database made by an older release is brought up to this one by
`flask db upgrade` (and `flask db init`): the dated files of sql/updates/ are applied once, in order,
in one transaction with the rest, and every reporting view is made again whatever its old shape."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from billing_app.account.summary import account_summary
from billing_app.schema import UPDATES_DIR, SchemaError, apply_schema
from tests.conftest import invoke_cli, make_config

OLD_SCHEMA = Path(__file__).parent / "fixtures" / "schema_2026-11-10.sql"
UPDATES = sorted(path.name for path in UPDATES_DIR.glob("*.sql"))


def applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM billing_app.schema_updates ORDER BY name")]


def test_a_new_database_gets_every_update_once(scratch_database):
    first = apply_schema(scratch_database, with_mirror=True)
    assert [name for name in first.applied if name.startswith("updates/")] == [f"updates/{n}" for n in UPDATES]
    assert applied(scratch_database) == UPDATES
    again = apply_schema(scratch_database, with_mirror=True)
    assert not [name for name in again.applied if name.startswith("updates/")]


def test_an_older_release_s_database_upgrades_with_its_data_intact(scratch_database, stripe_api):
    with psycopg.connect(scratch_database) as conn:
        conn.execute(OLD_SCHEMA.read_text())
        conn.execute("""INSERT INTO billing_app.users (email, password_hash, stripe_customer_id) VALUES
                        ('ada@example.com', 'hash-a', 'cus_ada'), ('bob@example.com', 'hash-b', NULL)""")
    config = make_config(scratch_database, stripe_api.url_for("").rstrip("/"))
    result = invoke_cli(config, "db", "init", "--mirror")  # the old release's database had its mirror
    assert result.exit_code == 0, result.output
    assert "applied updates/2026-11-12_remembered_customers_from_users.sql" in result.output.splitlines()

    with psycopg.connect(scratch_database) as conn:
        assert conn.execute("SELECT id, email, password_hash, session_version, email_verified_at "
                            "FROM billing_app.users ORDER BY id").fetchall() == [
            (1, "ada@example.com", "hash-a", 1, None), (2, "bob@example.com", "hash-b", 1, None)]
        assert conn.execute("SELECT user_id, stripe_customer_id FROM billing_app.remembered_customers"
                            ).fetchall() == [("1", "cus_ada")]
        columns = [row[0] for row in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'reporting.past_due'::regclass AND attnum > 0")]
        assert "owed" not in columns and "customer_id" in columns  # the view took its new shape
        conn.execute("SELECT * FROM reporting.past_due").fetchall()
        conn.execute("SELECT * FROM reporting.mrr_summary").fetchall()
        conn.row_factory = psycopg.rows.dict_row
        assert account_summary(conn, "1").customer_id == "cus_ada"  # the remembered customer, as before
    assert applied(scratch_database) == UPDATES
    again = invoke_cli(config, "db", "upgrade").output
    assert again.count("applied updates/") == 0  # nothing left to do, and it says so
    assert "no schema updates were pending: every file of sql/updates/ had been applied before" in again


def test_a_failing_update_changes_nothing(scratch_database, tmp_path, monkeypatch):
    apply_schema(scratch_database, with_mirror=True)
    broken = tmp_path / "updates"
    broken.mkdir()
    for name in UPDATES:
        (broken / name).write_text((UPDATES_DIR / name).read_text())
    (broken / "2999-01-01_add_then_fail.sql").write_text(
        "ALTER TABLE billing_app.users ADD COLUMN nickname text;\nSELECT 1 / 0;\n")
    monkeypatch.setattr("billing_app.schema.UPDATES_DIR", broken)
    with pytest.raises(SchemaError, match=r"^sql/.*2999-01-01_add_then_fail.sql failed: division by zero; "
                                          r"nothing was changed$"):
        apply_schema(scratch_database, with_mirror=True)
    with psycopg.connect(scratch_database) as conn:
        assert conn.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'billing_app.users'::regclass "
                            "AND attname = 'nickname'").fetchone()[0] == 0
    assert applied(scratch_database) == UPDATES


def test_doctor_says_when_an_update_is_pending(app_config, database_url, owner_conn):
    owner_conn.execute("DELETE FROM billing_app.schema_updates WHERE name = %s", (UPDATES[-1],))
    try:
        output = invoke_cli(app_config, "billing", "doctor").output
        assert f"FAIL schema updates: 1 not applied ({UPDATES[-1]}): run `flask db upgrade`" in output.splitlines()
    finally:
        owner_conn.execute("INSERT INTO billing_app.schema_updates (name) VALUES (%s)", (UPDATES[-1],))


def test_the_app_does_not_serve_a_database_that_missed_an_update(app_config, owner_conn):
    from billing_app import create_app
    owner_conn.execute("DELETE FROM billing_app.schema_updates WHERE name = %s", (UPDATES[-1],))
    try:
        with pytest.raises(SystemExit, match=rf"^billing_app: the database has not had this version's schema "
                                             rf"updates \({UPDATES[-1]}\): run `flask db upgrade`$"):
            create_app({k: v for k, v in app_config.items() if k != "TESTING"})  # as a server starts it
    finally:
        owner_conn.execute("INSERT INTO billing_app.schema_updates (name) VALUES (%s)", (UPDATES[-1],))

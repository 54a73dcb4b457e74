"""The connection pool: health check, 503 when the database is gone, healing after a restart."""

import select
import subprocess

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from billing_app import create_app
from billing_app.db import positional
from tests.conftest import make_config, start_pgserver

DOWN_URL = "postgresql://nobody@127.0.0.1:1/nothing"


def test_healthz_is_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "up"}


@pytest.fixture
def app_without_database(make_app):
    return make_app(DATABASE_URL=DOWN_URL, DATABASE_POOL_TIMEOUT="1")


def test_healthz_is_503_when_the_database_is_down(app_without_database):
    response = app_without_database.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "down"}


def test_page_needing_the_database_answers_503_page_without_stack_trace(app_without_database):
    client = app_without_database.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1"  # a signed-in visitor: loading the user needs the database
        session["_fresh"] = True
    response = client.get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    page = response.get_data(as_text=True)
    assert "Billing is temporarily unavailable" in page
    assert "Please try again in a minute." in page
    assert "Traceback" not in page and "psycopg" not in page


def test_api_errors_are_json(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_pages_answer_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)


def test_database_without_schema_answers_503_telling_the_operator(make_app, postgres_server_url):
    # the server's maintenance database has no billing_app schema
    client = make_app(DATABASE_URL=postgres_server_url, DATABASE_ROLE="none").test_client()
    token_page = client.get("/login").get_data(as_text=True)
    from tests.conftest import csrf_token_from
    response = client.post("/login", data={"email": "a@example.com", "password": "whatever-password",
                                            "csrf_token": csrf_token_from(token_page)})
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Billing is not available right now." in html and "flask db init" not in html


def pg_ctl(server, *args):
    command = [str(server.bin_path / "pg_ctl"), "-D", str(server.pgdata), "-w", *args]
    subprocess.run(command, check=True, capture_output=True, user=server.system_user, timeout=60)


def test_postgres_restart_is_survived(tmp_path, stripe_api):
    """Stop the server under a running app: 503 while it is down, 200 as soon as it is back."""
    from billing_app.schema import apply_schema
    server = start_pgserver(tmp_path / "restartable")
    try:
        url = make_conninfo(server.get_uri())
        apply_schema(url, with_mirror=True)
        app = create_app(make_config(url, stripe_api.url_for("").rstrip("/"), DATABASE_POOL_TIMEOUT="1"))
        client = app.test_client()
        assert client.get("/healthz").status_code == 200

        socket_dir = server.get_postmaster_info().socket_dir
        pg_ctl(server, "-m", "fast", "stop")
        assert client.get("/healthz").status_code == 503

        pg_ctl(server, "-o", f'-h "" -k {socket_dir}', "-l", str(server.log), "start")
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").status_code == 200
        app.extensions["billing_db"].close()
    finally:
        server.cleanup()


def test_an_idle_connection_is_lent_without_a_round_trip_unless_the_server_spoke(database_url):
    from billing_app.db import check_idle_connection

    with psycopg.connect(database_url, autocommit=True) as lent, \
            psycopg.connect(database_url, autocommit=True) as watcher:
        pid = lent.execute("SELECT pg_backend_pid()").fetchone()[0]
        lent.execute("SELECT 'the last query'")

        def last_query():
            return watcher.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]

        check_idle_connection(lent)
        assert last_query() == "SELECT 'the last query'"  # nothing was sent

        watcher.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):  # the goodbye reaches the socket
            if lent.pgconn.socket is not None and select.select([lent.pgconn.socket], [], [], 0.05)[0]:
                break
        with pytest.raises(psycopg.OperationalError):
            check_idle_connection(lent)  # the pool then discards it and lends another


def test_positional_placeholders_run_as_the_named_ones(database_url):
    """db.positional: a page's long statement goes to a RawCursor with $1, $2... (a name used twice is
    one number, %% is a percent sign) and gives what psycopg's own %(name)s conversion gives."""
    statement = "SELECT %(a)s::int + %(b)s::int AS sum, %(a)s::int AS a, '100%%' AS percent"
    query, names = positional(statement)
    assert query == "SELECT $1::int + $2::int AS sum, $1::int AS a, '100%' AS percent" and names == ("a", "b")
    values = {"a": 2, "b": 40}
    with psycopg.connect(database_url) as conn:
        raw = psycopg.RawCursor(conn).execute(query, [values[name] for name in names]).fetchone()
        assert raw == conn.execute(statement, values).fetchone() == (42, 2, "100%")
    with pytest.raises(ValueError, match="lone %"):
        positional("SELECT 5 % 2")

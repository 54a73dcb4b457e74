"""Issue 13, errors: customers read what they can do, operators read the fix in the log, and every
log line of a request names the request (X-Request-ID, echoed) and the user."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import customer_app
from tests.stripe_stand_in import answer_error

SESSIONS = "/v1/billing_portal/sessions"
INVALID_API_KEY = {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****p7dc"}


def test_a_clients_request_id_is_replaced_unless_a_proxy_is_trusted(client, make_app):
    chosen = client.get("/pricing", headers={"X-Request-ID": "lb-7f3a.42"}).headers["X-Request-ID"]
    assert chosen != "lb-7f3a.42" and len(chosen) == 32  # no proxy trusted: a client's id is not taken
    _echoed_or_made(make_app(TRUSTED_PROXY_COUNT="1").test_client())


def _echoed_or_made(client):
    sent = client.get("/pricing", headers={"X-Request-ID": "lb-7f3a.42"})
    assert sent.headers["X-Request-ID"] == "lb-7f3a.42"
    made = client.get("/pricing").headers["X-Request-ID"]
    assert len(made) == 32
    junk = client.get("/pricing", headers={"X-Request-ID": "x" * 300}).headers["X-Request-ID"]
    assert junk != "x" * 300 and len(junk) == 32
    assert client.get("/nowhere", headers={"X-Request-ID": "r-404"}).headers["X-Request-ID"] == "r-404"


def test_a_stripe_failure_is_logged_with_request_user_and_fix_and_the_customer_gets_a_way_out(
        app_config, mirror, stripe_api, caplog):
    answer_error(stripe_api, SESSIONS, 401, INVALID_API_KEY)
    with customer_app(app_config, mirror, TRUSTED_PROXY_COUNT="1") as (app, client, token), \
            caplog.at_level(logging.ERROR):
        answer = client.post("/api/customer_portal", headers={"X-CSRFToken": token, "X-Request-ID": "req-1"})
        user_id = mirror.conn.execute("SELECT id FROM billing_app.users").fetchone()[0]
    assert answer.status_code == 503
    message = answer.get_json()["error"]["message"]
    assert message == "Payments are not available right now. Please try again later, or write to billing@example.com."
    record = next(r for r in caplog.records if "Stripe refused the API key" in r.getMessage())
    assert (record.request_id, record.user_id) == ("req-1", str(user_id))
    assert record.msg.startswith("%s (answered")  # the message itself is left alone (error trackers group by it)
    assert "check STRIPE_SECRET_KEY" in record.getMessage()


def test_the_log_format_shows_request_and_user():
    import logging as stdlib_logging

    from billing_app.request_log import LOG_FORMAT, RequestContext
    record = stdlib_logging.LogRecord("psycopg.pool", stdlib_logging.WARNING, __file__, 1, "50%% off %s", ("now",),
                                      None)
    RequestContext().filter(record)  # outside a request: dashes
    assert stdlib_logging.Formatter(LOG_FORMAT).format(record).endswith(
        "WARNING psycopg.pool [request - user -]: 50% off now")


@pytest.mark.parametrize("status, code", [(503, "schema_missing")])
def test_error_pages_never_carry_operator_instructions(make_app, postgres_server_url, status, code):
    answer = make_app(DATABASE_URL=postgres_server_url, DATABASE_ROLE="none").test_client().get("/pricing")
    html = answer.get_data(as_text=True)
    assert answer.status_code == status
    assert "flask " not in html and "operator" not in html
    assert 'href="mailto:billing@example.com"' in html


def test_once_the_pool_has_seen_the_server_gone_requests_stop_waiting_the_full_timeout(make_app, caplog):
    client = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing", DATABASE_POOL_TIMEOUT="2").test_client()
    with caplog.at_level(logging.ERROR):
        first, second = client.get("/pricing"), client.get("/pricing")
    assert first.status_code == second.status_code == 503
    assert second.headers["Retry-After"] == "30"
    lines = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert lines[0].endswith("no database connection within 2s")
    # the pool knows: no 2 s wait, one connection attempt of its own, refused
    assert "within" not in lines[1] and "Connection refused" in lines[1]


def test_a_busy_pool_is_not_a_server_gone(make_app, caplog):
    app = make_app(DATABASE_POOL_MIN_SIZE="1", DATABASE_POOL_MAX_SIZE="1", DATABASE_POOL_TIMEOUT="1")
    with app.extensions["billing_db"].connection(), caplog.at_level(logging.ERROR):  # the only connection, held
        client = app.test_client()
        assert client.get("/pricing").status_code == 503
        assert client.get("/pricing").status_code == 503
    lines = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["1s", "1s"]
    assert app.test_client().get("/pricing").status_code == 200  # given back: served again


def test_the_pool_counts_as_back_only_when_it_lends_and_a_statement_timeout_is_not_a_down_server(make_app):
    from billing_app.db import DatabaseUnavailable
    database = make_app().extensions["billing_db"]
    with pytest.raises(DatabaseUnavailable):
        with database.connection() as conn:
            conn.execute("SET statement_timeout = 10")
            conn.execute("SELECT pg_sleep(1)")
    assert not database._server_down()  # a cancelled statement says nothing about the server

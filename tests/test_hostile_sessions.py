"""Issue 13, sessions: sign-in starts a fresh session, sign-out ends every copy of it,
and over https the cookie is a __Host- cookie."""

from __future__ import annotations

import psycopg
import pytest

from billing_app.auth.users import user_with_row
from tests.conftest import AuthActions, csrf_token_from


def test_a_cookie_saved_before_sign_out_opens_nothing_after(auth, client, mirror, owner_conn):
    auth.signup("me@example.com", "correct horse battery")
    mirror.customer("cus_me", owner_conn.execute("SELECT id FROM billing_app.users").fetchone()[0])
    saved = client.get_cookie("session").value  # an attacker's copy, or a second tab's
    assert client.get("/api/billing/summary").status_code == 200
    auth.logout()
    thief = client.application.test_client()
    thief.set_cookie("session", saved, domain="localhost")
    assert thief.get("/api/billing/summary").status_code == 401
    assert thief.get("/account").status_code == 302
    # signing in again works, with a new session
    assert auth.login("me@example.com", "correct horse battery").status_code == 302
    assert client.get("/api/billing/summary").status_code == 200


def test_sign_out_on_one_device_ends_the_others(app, mirror, owner_conn):
    phone, laptop = app.test_client(), app.test_client()
    AuthActions(phone).signup("me@example.com", "correct horse battery")
    AuthActions(laptop).login("me@example.com", "correct horse battery")
    assert laptop.get("/api/billing/summary").status_code == 200
    AuthActions(phone).logout()
    assert laptop.get("/api/billing/summary").status_code == 401


def test_sign_in_starts_a_fresh_session_with_a_new_csrf_token(auth, client, mirror, owner_conn, stripe_api):
    auth.signup("me@example.com", "correct horse battery")
    auth.logout()
    before = csrf_token_from(client.get("/login").get_data(as_text=True))
    planted = client.get_cookie("session").value
    auth.login("me@example.com", "correct horse battery")
    assert client.get_cookie("session").value != planted
    mirror.customer("cus_me", owner_conn.execute("SELECT id FROM billing_app.users").fetchone()[0])
    refused = client.post("/api/customer_portal", headers={"X-CSRFToken": before})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"


def test_over_https_the_session_is_a_host_cookie(make_app):
    client = make_app(SITE_URL="https://billing.example.com").test_client()
    answer = AuthActions(client).signup("me@example.com", "correct horse battery")
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("__Host-session="))
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie and "HttpOnly" in cookie


def test_a_signed_out_session_never_runs_the_pages_statement(app, user, owner_conn):
    """With built-in accounts a page's statement travels with the user's row (auth.users.user_with_row),
    and runs only when the session's version is current: a copy of a signed-out cookie costs the
    database the user's row, never the page.  The stand-in page statement divides by zero when run."""
    version = owner_conn.execute("SELECT session_version FROM billing_app.users WHERE id = %s", (user,)).fetchone()[0]

    def page(user_id):
        return "SELECT 1 / (SELECT count(*)::int FROM billing_app.users WHERE id = %(nobody)s) AS boom", {"nobody": -1}

    with app.extensions["billing_db"].connection() as conn:
        assert user_with_row(conn, f"{user}:{version + 1}", page) == (None, None)
        with pytest.raises(psycopg.errors.DivisionByZero):
            user_with_row(conn, f"{user}:{version}", page)

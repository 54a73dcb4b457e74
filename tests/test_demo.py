"""`flask demo`: the demo users, each linked to a customer in every account state."""

import pytest

from billing_app.auth.users import authenticate
from billing_app.demo import DEMO_PASSWORD, DemoError, load_demo, load_volume


def test_demo_users_sign_in_and_link_to_customers_in_every_state(database_url, owner_conn):
    load_demo(database_url)
    rows = owner_conn.execute("""
        SELECT u.email, array_agg(s.status ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL)
          FROM billing_app.users u
          LEFT JOIN stripe.customer c ON c.metadata->>'user_id' = u.id::text
          LEFT JOIN stripe.subscription s ON s.customer_id = c.id
         GROUP BY u.email ORDER BY u.email""").fetchall()
    assert rows == [
        ("alice@example.com", ["active"]),
        ("bob@example.com", ["active"]),
        ("carol@example.com", ["trialing"]),
        ("dave@example.com", ["past_due"]),
        ("erin@example.com", ["active"]),
        ("frank@example.com", ["canceled"]),
        ("grace@example.com", ["active", "active"]),
        ("heidi@example.com", None),
    ]
    assert authenticate(owner_conn, "alice@example.com", DEMO_PASSWORD) is not None
    cancels = owner_conn.execute(
        "SELECT customer_id FROM stripe.subscription WHERE cancel_at_period_end").fetchall()
    assert cancels == [("cus_demo_erin",)]
    yearly = owner_conn.execute("""
        SELECT s.customer_id FROM stripe.subscription s
          JOIN stripe.subscription_item i ON i.subscription_id = s.id
          JOIN stripe.price p ON p.id = i.price_id WHERE p.recurring_interval = 'year'""").fetchall()
    assert yearly == [("cus_demo_bob",)]
    counts = owner_conn.execute(
        "SELECT (SELECT count(*) FROM stripe.invoice), (SELECT count(*) FROM stripe.payment_method)").fetchone()
    assert counts[0] > 7 and counts[1] == 7


def test_demo_twice_replaces_its_rows(database_url, owner_conn):
    load_demo(database_url)
    load_demo(database_url)
    assert owner_conn.execute("SELECT count(*) FROM billing_app.users").fetchone()[0] == 8
    assert owner_conn.execute("SELECT count(*) FROM stripe.customer").fetchone()[0] == 7


def test_volume_load_reports_progress_and_links_users(database_url, owner_conn):
    load_demo(database_url)
    seen = []
    load_volume(database_url, 250, progress=seen.append)
    assert sum(seen) == 250
    linked = owner_conn.execute("""
        SELECT count(*) FROM stripe.customer c
          JOIN billing_app.users u ON u.id::text = c.metadata->>'user_id'
         WHERE c.id LIKE 'cus\\_vol\\_%'""").fetchone()[0]
    assert linked == 250
    subs = owner_conn.execute("SELECT count(*) FROM stripe.subscription WHERE id LIKE 'sub\\_vol\\_%'").fetchone()[0]
    assert subs == 300  # every fifth customer has two
    load_volume(database_url, 100)
    assert owner_conn.execute("SELECT count(*) FROM stripe.customer WHERE id LIKE 'cus\\_vol\\_%'").fetchone()[0] == 100


def test_demo_refuses_a_live_mirror(database_url, mirror):
    mirror.customer("cus_live", user_id=1, livemode=True)
    with pytest.raises(DemoError, match="holds 1 live-mode customers"):
        load_demo(database_url)


def test_demo_command_with_volume_prints_sign_in_details(runner):
    result = runner.invoke(args=["demo", "--customers", "50"])
    assert result.exit_code == 0, result.output
    assert "Loading 50 customers" in result.output
    assert "alice@example.com" in result.output

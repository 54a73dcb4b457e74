"""`flask demo`: the demo users, each linked to a customer in every account state, in the mirror's own shape."""

import pytest

from billing_app.auth.users import authenticate
from billing_app.demo import DEMO_PASSWORD, DemoError, load_demo
from billing_app.demo.volume import load_volume

MIRROR_SOURCES = True  # every test here runs on each mirror source


def test_demo_users_sign_in_and_link_to_customers_in_every_state(database_url, owner_conn):
    load_demo(database_url)
    rows = owner_conn.execute("""
        SELECT u.email, array_agg(s.status ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL)
          FROM billing_app.users u
          LEFT JOIN billing_mirror.customers c ON c.metadata->>'user_id' = u.id::text
          LEFT JOIN billing_mirror.subscriptions s ON s.customer_id = c.id
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
        "SELECT customer_id FROM billing_mirror.subscriptions WHERE cancel_at_period_end").fetchall()
    assert cancels == [("cus_demo_erin",)]
    yearly = owner_conn.execute("""
        SELECT s.customer_id FROM billing_mirror.subscriptions s
          JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id
          JOIN billing_mirror.prices p ON p.id = i.price_id WHERE p.recurring_interval = 'year'""").fetchall()
    assert yearly == [("cus_demo_bob",)]
    counts = owner_conn.execute("SELECT (SELECT count(*) FROM billing_mirror.invoices), "
                                "(SELECT count(*) FROM billing_mirror.payment_methods)").fetchone()
    assert counts[0] > 7 and counts[1] == 7


def test_demo_objects_are_ones_stripe_could_hold(database_url, owner_conn):
    load_demo(database_url)
    # one currency per subscription and per customer
    assert owner_conn.execute("""
        SELECT s.customer_id, count(DISTINCT p.currency) FROM billing_mirror.subscriptions s
          JOIN billing_mirror.subscription_items i ON i.subscription_id = s.id
          JOIN billing_mirror.prices p ON p.id = i.price_id
         GROUP BY s.customer_id HAVING count(DISTINCT p.currency) > 1""").fetchall() == []
    assert owner_conn.execute("""
        SELECT c.id FROM billing_mirror.customers c JOIN billing_mirror.invoices i ON i.customer_id = c.id
         WHERE i.currency <> c.currency""").fetchall() == []
    # nothing is paid during a trial
    assert owner_conn.execute("""
        SELECT i.id FROM billing_mirror.invoices i JOIN billing_mirror.subscriptions s ON s.id = i.subscription_id
         WHERE s.status = 'trialing' AND i.status = 'paid' AND i.total > 0""").fetchall() == []
    # periods run forwards; nothing is invoiced after a subscription ended
    assert owner_conn.execute("""SELECT id FROM billing_mirror.subscriptions
                                  WHERE current_period_start > current_period_end""").fetchall() == []
    assert owner_conn.execute("""
        SELECT i.id FROM billing_mirror.invoices i JOIN billing_mirror.subscriptions s ON s.id = i.subscription_id
         WHERE i.created > s.ended_at OR i.created < s.start_date - interval '1 day'""").fetchall() == []
    # every invoice's total is the sum of its lines, and its subscription is found
    assert owner_conn.execute("SELECT count(*) FROM billing_mirror.invoices WHERE subscription_id IS NULL"
                              ).fetchone()[0] == 0
    from billing_app.demo import ACCOUNTS, account_objects, catalog_objects, utcnow
    _, prices = catalog_objects(utcnow())
    for account in ACCOUNTS:
        for kind, obj in account_objects(account, 1, prices, utcnow()):
            if kind == "invoice":
                assert obj["total"] == sum(line["amount"] for line in obj["lines"]["data"]), obj["id"]


def test_demo_twice_replaces_its_rows(database_url, owner_conn):
    load_demo(database_url)
    load_demo(database_url)
    assert owner_conn.execute("SELECT count(*) FROM billing_app.users").fetchone()[0] == 8
    assert owner_conn.execute("SELECT count(*) FROM billing_mirror.customers").fetchone()[0] == 7


def test_volume_load_reports_progress_and_links_users(database_url, owner_conn):
    load_demo(database_url)
    seen = []
    load_volume(database_url, 250, progress=seen.append)
    assert sum(seen) == 250
    linked = owner_conn.execute("""
        SELECT count(*) FROM billing_mirror.customers c
          JOIN billing_app.users u ON u.id::text = c.metadata->>'user_id'
         WHERE c.id LIKE 'cus\\_vol\\_%'""").fetchone()[0]
    assert linked == 250
    subs = owner_conn.execute(
        "SELECT count(*) FROM billing_mirror.subscriptions WHERE id LIKE 'sub\\_vol\\_%'").fetchone()[0]
    assert subs == 300  # every fifth customer has two
    load_volume(database_url, 100)
    assert owner_conn.execute(
        "SELECT count(*) FROM billing_mirror.customers WHERE id LIKE 'cus\\_vol\\_%'").fetchone()[0] == 100


def test_demo_refuses_a_live_mirror(database_url, mirror):
    mirror.customer("cus_live", user_id=1, livemode=True)
    with pytest.raises(DemoError, match="holds 1 live-mode customers"):
        load_demo(database_url)


def test_demo_command_with_volume_prints_sign_in_details(runner):
    result = runner.invoke(args=["demo", "--customers", "50"])
    assert result.exit_code == 0, result.output
    assert "Loading 50 customers" in result.output
    assert "alice@example.com" in result.output

"""The account page's cost: a fixed number of indexed queries, whatever the mirror's size."""

import json

import pytest

from billing_app.account.summary import account_summary
from billing_app.demo import load_volume

CUSTOMERS = 100_000


class ExplainingConnection:
    """Wraps a connection: records the plan of every query before running it."""

    def __init__(self, conn):
        self.conn = conn
        self.plans = []

    def pipeline(self):
        return self.conn.pipeline()

    def execute(self, query, params=None):
        plan = self.conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
        self.plans.append((query, plan["QUERY PLAN"] if isinstance(plan, dict) else plan[0]))
        return self.conn.execute(query, params)


def scanned_relations(node, found=None):
    found = set() if found is None else found
    if node.get("Node Type") == "Seq Scan":
        found.add(node["Relation Name"])
    for child in node.get("Plans", []):
        scanned_relations(child, found)
    return found


@pytest.fixture
def large_mirror(database_url, owner_conn):
    load_volume(database_url, CUSTOMERS)
    owner_conn.execute("ANALYZE")


def test_account_summary_at_100k_customers_uses_indexes_only(app, large_mirror, owner_conn):
    user_id = owner_conn.execute("""
        SELECT u.id FROM billing_app.users u
          JOIN stripe.customer c ON c.metadata->>'user_id' = u.id::text
          JOIN stripe.subscription s ON s.customer_id = c.id
         WHERE c.id = 'cus_vol_50000'""").fetchone()[0]
    with app.extensions["billing_db"].connection() as conn:
        explaining = ExplainingConnection(conn)
        summary = account_summary(explaining, user_id)
    assert summary.customer_id == "cus_vol_50000"
    assert summary.subscriptions and summary.invoices and summary.card
    # customer with its default card, then subscriptions with items and invoices (pipelined)
    assert len(explaining.plans) == 3
    for query, plan in explaining.plans:
        seq_scans = scanned_relations(plan[0]["Plan"])
        assert not seq_scans & {"customer", "subscription", "subscription_item", "invoice", "payment_method"}, (
            query, json.dumps(plan, indent=1))

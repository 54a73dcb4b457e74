"""The reporting views on a data set written for these tests, with figures worked out by hand.

Data set (amounts in minor units):
  prices  m_usd    usd  1000 / month        (Alpha)
          q_usd    usd  9000 / 3 months     (Alpha)  -> 3000 a month
          y_usd    usd 12000 / year         (Beta)   -> 1000 a month
          w_usd    usd   700 / week         (Beta)   -> 700 * 52 / 12 a month
          d_eur    eur   100 / day          (Alpha)  -> 100 * 365 / 12 a month
          y2_eur   eur 24000 / 2 years      (Alpha)  -> 1000 a month
          m_jpy    jpy  3000 / month        (Alpha)
          metered  usd    50 / month metered (Beta)  -> never MRR
          gone     usd  2000 / month, deleted price of a deleted product (Gone)
  subscriptions
          s1  c1 active     m_usd x2 + metered       2025-01-15   MRR usd 2000
          s2  c2 active     q_usd x1                 2025-01-20   MRR usd 3000
          s5  c5 active     d_eur x1 + y2_eur x1     2025-02-03   MRR eur 3041.666.. + 1000
          s6  c6 active     m_jpy x5                 2025-02-04   MRR jpy 15000
          s8  c8 canceled   m_usd x1                 2025-02-10, ended 2025-03-20
          s3  c3 past_due   y_usd x1                 2025-03-01   MRR usd 1000, open invoice 12000
          s4  c4 active     w_usd x3                 2025-03-02   MRR usd 2100 * 52 / 12 = 9100
          s11 c3 active     gone x1                  2025-03-03   MRR usd 2000 (deleted price still bills)
          s7  c7 trialing   m_usd, trial ends in 5 days           2025-04-01
          s7b c7 trialing   m_usd, trial ends in 20 days          2025-04-01
          s9  c1 unpaid     m_usd, open invoice 1000              2025-04-02
          s10 c2 incomplete m_usd                                 2025-04-03
          s12 c4 active     item on a price missing from the mirror 2025-04-04
          s13 c5 paused     m_usd                                 2025-04-05
"""

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
from psycopg.conninfo import make_conninfo
import pytest

from billing_app.reporting.reports import ReportError, report_views, reporting_connection, run_report
from billing_app.mirror.freshness import last_written
from billing_app.reporting.rollups import REFRESH_LOCK, RefreshBusy, RefreshError, refresh_rollups
from billing_app.schema import apply_schema
from billing_app.mirror.source import SOURCES
from tests.conftest import SOURCES_THAT_DROP_DELETED_PRICES, invoke_cli
from tests.mirror import utcnow

MIRROR_SOURCES = True  # every test here runs on each mirror source
NOW = utcnow()


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Gone:
    """What the source keeps of the deleted price "gone": a flagged row, or nothing (dropped)."""

    def __init__(self, source: str) -> None:
        self.dropped = source in SOURCES_THAT_DROP_DELETED_PRICES

    def without(self, keys: set, expected: dict) -> dict:
        return {k: v for k, v in expected.items() if k not in keys} if self.dropped else expected


@pytest.fixture
def gone(source) -> Gone:
    return Gone(source)


@pytest.fixture
def dataset(mirror, owner_conn, database_url):
    m = mirror
    for user_id in range(1, 10):  # users 1..8 own customers c1..c8; user 9 has none
        owner_conn.execute("INSERT INTO billing_app.users (id, email, password_hash) OVERRIDING SYSTEM VALUE "
                           "VALUES (%s, %s, 'x')", (user_id, f"u{user_id}@example.com"))
    m.product("prod_alpha", "Alpha")
    m.product("prod_beta", "Beta")
    m.product("prod_gone", "Gone", deleted=True, active=False)
    m.price("m_usd", "prod_alpha", unit_amount=1000)
    m.price("q_usd", "prod_alpha", unit_amount=9000, interval_count=3)
    m.price("y_usd", "prod_beta", unit_amount=12000, interval="year")
    m.price("w_usd", "prod_beta", unit_amount=700, interval="week")
    m.price("d_eur", "prod_alpha", currency="eur", unit_amount=100, interval="day")
    m.price("y2_eur", "prod_alpha", currency="eur", unit_amount=24000, interval="year", interval_count=2)
    m.price("m_jpy", "prod_alpha", currency="jpy", unit_amount=3000)
    m.price("metered", "prod_beta", unit_amount=50, recurring_usage_type="metered")
    m.price("gone", "prod_gone", unit_amount=2000, deleted=True, active=False)
    for n in range(1, 9):
        m.customer(f"c{n}", n, email=f"c{n}@example.com")
    m.customer("c_orphan", None, email="orphan@example.com")
    m.customer("c_ghost", 99999, email="ghost@example.com")

    def sub(id_, customer, status, items, created, **kw):
        m.subscription(id_, customer, status=status, items=items, created=created, start_date=created, **kw)

    sub("s1", "c1", "active", [("m_usd", 2), ("metered", 1)], datetime(2025, 1, 15))
    sub("s2", "c2", "active", [("q_usd", 1)], datetime(2025, 1, 20))
    sub("s5", "c5", "active", [("d_eur", 1), ("y2_eur", 1)], datetime(2025, 2, 3))
    sub("s6", "c6", "active", [("m_jpy", 5)], datetime(2025, 2, 4))
    sub("s8", "c8", "canceled", [("m_usd", 1)], datetime(2025, 2, 10), canceled_at=datetime(2025, 3, 1),
        ended_at=datetime(2025, 3, 20), current_period_end=datetime(2025, 3, 20))
    sub("s3", "c3", "past_due", [("y_usd", 1)], datetime(2025, 3, 1))
    sub("s4", "c4", "active", [("w_usd", 3)], datetime(2025, 3, 2))
    sub("s11", "c3", "active", [("gone", 1)], datetime(2025, 3, 3))
    sub("s7", "c7", "trialing", [("m_usd", 1)], datetime(2025, 4, 1), trial_end=NOW + timedelta(days=5, hours=1))
    sub("s7b", "c7", "trialing", [("m_usd", 1)], datetime(2025, 4, 1), trial_end=NOW + timedelta(days=20))
    sub("s9", "c1", "unpaid", [("m_usd", 1)], datetime(2025, 4, 2))
    sub("s10", "c2", "incomplete", [("m_usd", 1)], datetime(2025, 4, 3))
    sub("s12", "c4", "active", [("price_not_synced", 1)], datetime(2025, 4, 4))  # an item synced before its price
    sub("s13", "c5", "paused", [("m_usd", 1)], datetime(2025, 4, 5))
    m.invoice("in_s3_open", "c3", subscription_id="s3", amount=12000, status="open", amount_remaining=12000,
              created=datetime(2025, 4, 1))
    m.invoice("in_s3_paid", "c3", subscription_id="s3", amount=12000, status="paid", amount_remaining=0,
              created=datetime(2025, 3, 1))
    m.invoice("in_s9_open", "c1", subscription_id="s9", amount=1000, status="open", amount_remaining=1000,
              created=datetime(2025, 4, 2))
    refresh_rollups(database_url)  # what `flask report refresh` does
    return m


@pytest.fixture
def report(app, dataset):
    def run(view, *filters, live=False):
        with app.app_context(), reporting_connection() as conn:
            columns, rows = run_report(conn, view, list(filters), live=live)
        return [dict(zip(columns, row)) for row in rows]
    return run


def test_mrr_per_item_normalises_each_interval(report, gone):
    rows = {(r["subscription_id"], r["price_id"]): round(r["mrr_minor_units"], 6) for r in report("mrr")}
    assert rows == gone.without({("s11", "gone")}, {
        ("s1", "m_usd"): 2000,
        ("s2", "q_usd"): 3000,                      # 9000 every 3 months
        ("s3", "y_usd"): 1000,                      # 12000 a year, past due still counts
        ("s4", "w_usd"): 9100,                      # 700 x 3 x 52 / 12
        ("s5", "d_eur"): Decimal("3041.666667"),    # 100 x 365 / 12
        ("s5", "y2_eur"): 1000,                     # 24000 every 2 years
        ("s6", "m_jpy"): 15000,                     # zero-decimal currency, quantity 5
        ("s11", "gone"): 2000,                      # deleted price, still billing
    })
    # never: metered (s1), trialing (s7, s7b), canceled (s8), unpaid (s9), incomplete (s10),
    # a missing price (s12), paused (s13)


def test_mrr_summary_per_currency_never_mixed(report, gone):
    rows = {r["currency"]: r for r in report("mrr_summary")}
    assert set(rows) == {"eur", "jpy", "usd"}
    usd = rows["usd"]
    if gone.dropped:  # s11's price is not in the mirror: no MRR
        assert (usd["customers"], usd["subscriptions"], usd["mrr"]) == (4, 4, Decimal("151.00"))
    else:
        assert (usd["customers"], usd["subscriptions"]) == (4, 5)  # c1..c4; s1 s2 s3 s4 s11
        assert usd["mrr_minor_units"] == Decimal("17100.00")       # 2000 + 3000 + 1000 + 9100 + 2000
        assert usd["mrr"] == Decimal("171.00")
        assert usd["arr"] == Decimal("2052.00")
    assert rows["eur"]["mrr_minor_units"] == Decimal("4041.67")  # 3041.666... + 1000
    assert rows["eur"]["mrr"] == Decimal("40.42")
    assert rows["jpy"]["mrr"] == Decimal("15000")                # yen have no minor unit
    assert rows["jpy"]["arr"] == Decimal("180000")


def test_mrr_by_product(report, gone):
    rows = {(r["currency"], r["product"]): (r["subscriptions"], r["mrr_minor_units"])
            for r in report("mrr_by_product")}
    assert rows == gone.without({("usd", "Gone")}, {
        ("usd", "Alpha"): (2, Decimal("5000.00")),     # s1 2000 + s2 3000
        ("usd", "Beta"): (2, Decimal("10100.00")),     # s3 1000 + s4 9100
        ("usd", "Gone"): (1, Decimal("2000.00")),      # s11
        ("eur", "Alpha"): (1, Decimal("4041.67")),     # s5
        ("jpy", "Alpha"): (1, Decimal("15000.00")),    # s6
    })


def test_subscription_status_counts(report):
    rows = {r["status"]: r["subscriptions"] for r in report("subscription_status_counts")}
    assert rows == {"active": 7, "past_due": 1, "trialing": 2, "canceled": 1, "unpaid": 1, "incomplete": 1,
                    "paused": 1}


def test_monthly_movements(report, gone):
    rows = {(r["month"].isoformat(), r["currency"]):
            (r["new_subscriptions"], r["new_mrr_minor_units"], r["churned_subscriptions"],
             r["churned_mrr_minor_units"]) for r in report("monthly_movements")}
    assert rows == {
        ("2025-01-01", "usd"): (2, Decimal("5000.00"), 0, 0),        # s1 2000, s2 3000 (metered left out)
        ("2025-02-01", "usd"): (1, Decimal("1000.00"), 0, 0),        # s8
        ("2025-02-01", "eur"): (1, Decimal("4041.67"), 0, 0),        # s5
        ("2025-02-01", "jpy"): (1, Decimal("15000.00"), 0, 0),       # s6
        ("2025-03-01", "usd"): ((2, Decimal("10100.00"), 1, Decimal("1000.00")) if gone.dropped else
                                (3, Decimal("12100.00"), 1, Decimal("1000.00"))),  # s3 s4 s11; s8 churned
        ("2025-04-01", "usd"): (4, Decimal("4000.00"), 0, 0),        # s7 s7b s9 s13; s10 never paid, s12 no price
    }


def test_trials_ending_in_the_next_14_days(report):
    rows = report("trials_ending")
    assert [(r["subscription_id"], r["email"], r["days_left"], r["products"]) for r in rows] == [
        ("s7", "c7@example.com", 5, "Alpha")]


def test_past_due_with_amount_outstanding(report):
    rows = {r["subscription_id"]: (r["status"], r["currency"], r["amount_outstanding"],
                                   r["amount_outstanding_major"], r["open_invoices"]) for r in report("past_due")}
    assert rows == {"s3": ("past_due", "usd", 12000, Decimal("120.00"), 1),
                    "s9": ("unpaid", "usd", 1000, Decimal("10.00"), 1)}


def test_past_due_finds_the_subscription_of_an_invoice_that_starts_with_a_proration(mirror, report):
    # the invoice's first line is an invoice item (a proration); the subscription is named further on
    lines = [{"amount": 500, "quantity": 1, "invoice_item": "ii_proration", "price": None},
             {"amount": 12000, "quantity": 1, "subscription_item": "si_s3_1", "price": "y_usd"}]
    mirror.invoice("in_s3_prorated", "c3", subscription_id="s3", amount=12500, status="open", lines=lines,
                   created=datetime(2025, 4, 20))
    rows = {r["subscription_id"]: (r["amount_outstanding"], r["open_invoices"])
            for r in report("past_due", live=True)}  # the rollup shows it after the next refresh
    assert rows["s3"] == (24500, 2)


def test_active_subscriptions_one_row_per_billing_item(report):
    rows = report("active_subscriptions")
    assert sorted((r["subscription_id"], r["price_id"]) for r in rows) == [
        ("s1", "m_usd"), ("s1", "metered"), ("s11", "gone"), ("s12", "price_not_synced"), ("s2", "q_usd"), ("s3", "y_usd"),
        ("s4", "w_usd"), ("s5", "d_eur"), ("s5", "y2_eur"), ("s6", "m_jpy"), ("s7", "m_usd"), ("s7b", "m_usd")]
    s4 = next(r for r in rows if r["subscription_id"] == "s4")
    assert (s4["email"], s4["product"], s4["currency"], s4["quantity"], s4["billing_interval"],
            s4["interval_count"]) == ("c4@example.com", "Beta", "usd", 3, "week", 1)


def test_data_quality(report, gone):
    rows = sorted((r["problem"], r["object_id"]) for r in report("data_quality"))
    gone_price = [("price_missing", "si_s11_1")] if gone.dropped else [("price_deleted", "si_s11_1"),
                                                                        ("product_deleted", "si_s11_1")]
    assert rows == sorted([
        ("customer_with_unknown_user_id", "c_ghost"),
        ("customer_without_user_id", "c_orphan"),
        *gone_price,
        ("price_missing", "si_s12_1"),
        ("user_without_customer", "9"),
    ])


def test_filters_use_real_columns_and_values_as_parameters(report):
    assert [r["subscription_id"] for r in report("mrr", ("currency", "eur"), ("price_id", "y2_eur"))] == ["s5"]
    assert report("mrr", ("currency", "usd'; DROP TABLE stripe.price; --")) == []
    with pytest.raises(ReportError, match="unknown column 'currency; DROP' for report mrr; columns: customer_id"):
        report("mrr", ("currency; DROP", "x"))
    with pytest.raises(ReportError, match="unknown report 'pg_user'; reports: active_subscriptions"):
        report("pg_user")


def test_every_view_has_a_comment(app):
    with app.app_context(), reporting_connection() as conn:
        views = report_views(conn)
    assert set(views) == {"active_subscriptions", "mrr", "mrr_by_product", "mrr_summary",
                          "subscription_status_counts", "monthly_movements", "trials_ending", "past_due",
                          "data_quality", "rollup_freshness"}
    assert all(len(comment) > 40 for comment in views.values())


# --- the role and the command -----------------------------------------------------------

def test_reporting_connection_is_read_only_and_runs_as_billing_reporting(app, dataset):
    with app.app_context(), reporting_connection() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "billing_reporting"
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TEMP TABLE scratch (x int)")


def test_reports_run_with_room_to_hash_and_without_jit(app, dataset):
    """A million-row live view hashes in memory, and is not compiled first (BENCHMARKS.md)."""
    with app.app_context(), reporting_connection() as conn:
        assert conn.execute("SHOW work_mem").fetchone()[0] == "64MB"
        assert conn.execute("SHOW jit").fetchone()[0] == "off"


def test_reporting_role_cannot_read_users_nor_write_the_mirror(owner_conn, source):
    prices = SOURCES[source].table("price")
    owner_conn.execute("SET ROLE billing_reporting")
    owner_conn.execute("SELECT count(*) FROM reporting.data_quality")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        owner_conn.execute("SELECT email FROM billing_app.users")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        owner_conn.execute(f"DELETE FROM stripe.{prices}")  # noqa: S608 a known table
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        owner_conn.execute("CREATE VIEW reporting.mine AS SELECT 1")


def test_report_list_prints_each_view_with_its_comment(runner, dataset):
    result = runner.invoke(args=["report", "list"])
    assert result.exit_code == 0, result.output
    assert "mrr_summary\n    Monthly recurring revenue per currency" in result.output


def test_report_show_prints_an_aligned_table(runner, dataset):
    result = runner.invoke(args=["report", "show", "subscription_status_counts", "--where", "status=active"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:4] == [
        "status  subscriptions",
        "------  -------------",
        "active              7",
        "(1 row)",
    ]


def test_report_show_csv(runner, dataset, gone):
    result = runner.invoke(args=["report", "show", "mrr_summary", "--csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "currency,customers,subscriptions,mrr_minor_units,mrr,arr"
    assert ("usd,4,4,15100.00,151.00,1812.00" if gone.dropped else "usd,4,5,17100.00,171.00,2052.00") in lines


def test_report_csv_written_to_a_real_stdout_is_the_same(runner, dataset, database_url, tmp_path):
    """`flask report show --csv` in a process of its own writes through a buffer of its own on the
    descriptor (the test runner above has none): the same bytes."""
    from tests.conftest import TEST_SECRET_KEY
    from tests.test_config import run_flask
    expected = runner.invoke(args=["report", "show", "active_subscriptions", "--csv"]).stdout
    result = run_flask(tmp_path, {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY},
                       "report", "show", "active_subscriptions", "--csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected and len(expected.splitlines()) > 5


def test_report_csv_to_a_full_disk_says_so_in_one_line(dataset, database_url, tmp_path):
    from tests.conftest import TEST_SECRET_KEY
    from tests.test_config import run_flask
    with open("/dev/full", "wb") as full:
        result = run_flask(tmp_path, {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY},
                           "report", "show", "active_subscriptions", "--csv", stdout=full)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == \
        "Error: cannot write the report to stdout: No space left on device"
    assert "Traceback" not in result.stderr


def test_a_csv_reader_that_stops_early_ends_the_command(runner, dataset, owner_conn, monkeypatch):
    """`flask report show NAME --csv | head`: the pipe closes while COPY still sends rows; the command
    ends the COPY and exits 1 (it used to hang for good: the transaction cannot end during a COPY)."""
    from types import SimpleNamespace

    from billing_app.reporting import commands
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone
    monkeypatch.setattr(commands, "CSV_BUFFER", 0)  # each row written at once: the first one meets the closed pipe
    monkeypatch.setattr(commands, "sys", SimpleNamespace(stdout=SimpleNamespace(fileno=lambda: write_end,
                                                                                   flush=lambda: None)))
    results = []
    command = threading.Thread(target=lambda: results.append(
        runner.invoke(args=["report", "show", "active_subscriptions", "--csv"])), daemon=True)
    command.start()
    command.join(30)
    try:
        assert not command.is_alive(), "the command hung after its reader went away"
        assert results[0].exit_code == 1
    finally:
        owner_conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE query LIKE 'COPY%%' AND pid <> pg_backend_pid()")
        os.close(write_end)


@pytest.mark.parametrize("args, message", [
    (["report", "show", "users"], "Error: unknown report 'users'"),
    (["report", "show", "mrr", "--where", "email=x@example.com"], "Error: unknown column 'email' for report mrr"),
    (["report", "show", "mrr", "--where", "currency"], "Error: --where 'currency': expected COLUMN=VALUE"),
])
def test_report_show_refuses_bad_input(runner, dataset, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output


def test_report_over_unreachable_database_fails_cleanly(app_config):
    result = invoke_cli({**app_config, "REPORTING_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"},
                        "report", "list")
    assert result.exit_code == 1
    assert "Error: cannot connect to REPORTING_DATABASE_URL" in result.output


def test_report_table_shows_booleans_and_empty_nulls(runner, dataset):
    result = runner.invoke(args=["report", "show", "active_subscriptions", "--where", "subscription_id=s4"])
    assert result.exit_code == 0, result.output
    header, rule, row, count = result.output.splitlines()
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    cells = {header[a:b].strip(): row[a:b].strip() for a, b in zip(starts, starts[1:] + [None])}
    assert cells["cancel_at_period_end"] == "false" and cells["quantity"] == "3"
    assert cells["trial_end"] == "" and count == "(1 row)"


# --- precomputed reports (rollups) ------------------------------------------------------

ROLLUPS = ["data_quality", "monthly_movements", "mrr_by_product", "mrr_summary", "past_due",
           "subscription_status_counts"]


def rollup_differences(conn, name: str) -> list:
    """Rows in the rollup but not in its live definition, and the other way round (as multisets)."""
    return conn.execute(
        f"(SELECT 'stored', * FROM reporting.{name} EXCEPT ALL SELECT 'stored', * FROM reporting_live.{name}) "  # noqa: S608
        f"UNION ALL (SELECT 'live', * FROM reporting_live.{name} EXCEPT ALL SELECT 'live', * FROM reporting.{name})"
    ).fetchall()


def test_every_rollup_equals_its_live_definition_after_a_refresh(dataset, owner_conn):
    names = [r[0] for r in owner_conn.execute("SELECT rollup FROM reporting.rollup_freshness ORDER BY 1")]
    assert names == ROLLUPS
    for name in names:
        assert owner_conn.execute(f"SELECT count(*) FROM reporting.{name}").fetchone()[0] > 0  # noqa: S608
        assert rollup_differences(owner_conn, name) == [], name


def test_a_rollup_keeps_its_figures_until_the_next_refresh(runner, dataset, report, owner_conn):
    before = report("mrr_summary")
    dataset.subscription("s_new", "c6", status="active", items=[("m_jpy", 1)], created=datetime(2025, 5, 1))
    assert report("mrr_summary") == before
    assert report("mrr_summary", live=True) != before
    result = runner.invoke(args=["report", "refresh"])
    assert result.exit_code == 0, result.output
    assert "refreshed mrr_summary: 3 rows in " in result.output
    assert result.output.splitlines()[-1].startswith("6 reports refreshed in ")
    jpy = next(r for r in report("mrr_summary") if r["currency"] == "jpy")
    assert (jpy["subscriptions"], jpy["mrr"]) == (2, Decimal(18000))
    for name in ROLLUPS:
        assert rollup_differences(owner_conn, name) == [], name


def test_refresh_records_when_and_from_what_mirror_time(runner, dataset, owner_conn, source):
    owner_conn.execute("UPDATE reporting_rollups.refreshes SET refreshed_at = NULL, mirror_synced_at = NULL")
    assert runner.invoke(args=["report", "refresh"]).exit_code == 0
    rows = owner_conn.execute("SELECT rollup, refreshed_at, mirror_synced_at, rows, age "
                              "FROM reporting.rollup_freshness").fetchall()
    newest = last_written(owner_conn, source_records_sync_time=SOURCES[source].synced_at_column is not None)
    assert len({r[1] for r in rows}) == 1  # one moment for all of them
    assert {r[2] for r in rows} == {newest}
    assert all(r[4] < timedelta(minutes=1) for r in rows)
    assert {r[0]: r[3] for r in rows}["subscription_status_counts"] == 7


def test_readers_never_wait_for_a_refresh_nor_see_half_of_one(app_config, dataset, owner_conn):
    """A refresh stopped between two rollups: readers see every old figure, at once; then every new one."""
    readable = [name for name in ROLLUPS if name != "subscription_status_counts"]

    def read_all():  # as an analyst who would rather fail than wait
        with owner_conn.transaction():
            owner_conn.execute("SET LOCAL ROLE billing_reporting")
            owner_conn.execute("SET LOCAL lock_timeout = '1s'")
            return {name: sorted(map(repr, owner_conn.execute(f"SELECT * FROM reporting.{name}")))  # noqa: S608
                    for name in readable}

    before = read_all()
    dataset.subscription("s_new", "c6", status="past_due", items=[("m_jpy", 1)], created=datetime(2025, 5, 1))
    dataset.invoice("in_new", "c6", subscription_id="s_new", amount=3000, currency="jpy", status="open",
                    amount_remaining=3000, created=datetime(2025, 5, 1))
    blocker = psycopg.connect(app_config["DATABASE_URL"])
    # the refresh goes through the rollups by name; this holds it before the last one
    blocker.execute("LOCK TABLE reporting_rollups.subscription_status_counts IN ACCESS EXCLUSIVE MODE")
    with ThreadPoolExecutor(2) as pool:
        refreshing = pool.submit(refresh_rollups, app_config["DATABASE_URL"])
        try:
            wait_until(lambda: owner_conn.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted "
                "AND relation = 'reporting_rollups.subscription_status_counts'::regclass").fetchone()[0] == 1)
            assert read_all() == before
            busy = pool.submit(refresh_rollups, app_config["DATABASE_URL"])
            with pytest.raises(RefreshBusy, match=r"another refresh or `flask db init` is running \(server process \d+"):
                busy.result(timeout=30)
        finally:
            blocker.close()
        refreshing.result(timeout=30)
    after = read_all()
    assert all(after[name] != before[name] for name in ("mrr_summary", "past_due", "monthly_movements"))
    assert sum("s_new" in row for row in after["past_due"]) == 1


def test_refresh_with_wait_waits_for_the_running_one(runner, dataset, database_url):
    with psycopg.connect(database_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (REFRESH_LOCK,))
        result = runner.invoke(args=["report", "refresh"])
        assert result.exit_code == 0, result.output
        assert "another refresh or `flask db init` is running" in result.output
        assert "use --wait to wait for it" in result.output and "refreshed" not in result.output
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(refresh_rollups, database_url, wait=True, poll_seconds=0.05)
            time.sleep(0.5)
            assert not waiting.done()
            other.execute("SELECT pg_advisory_unlock(%s)", (REFRESH_LOCK,))
            assert len(waiting.result(timeout=30)) == len(ROLLUPS)


def test_refresh_runs_as_a_login_granted_billing_refresh_only(dataset, owner_conn, database_url, app_config):
    owner_conn.execute("DROP ROLE IF EXISTS refresh_cron")
    owner_conn.execute("CREATE ROLE refresh_cron LOGIN")
    try:
        owner_conn.execute("GRANT billing_refresh TO refresh_cron")
        cron_url = make_conninfo(database_url, user="refresh_cron")
        done = invoke_cli({**app_config, "DATABASE_URL": cron_url}, "report", "refresh")
        assert done.exit_code == 0, done.output
        assert done.output.splitlines()[-1].startswith("6 reports refreshed in ")
        owner_conn.execute("REVOKE billing_refresh FROM refresh_cron")
        refused = invoke_cli({**app_config, "DATABASE_URL": cron_url}, "report", "refresh")
        assert refused.exit_code == 1
        assert "Error: cannot use the role" in refused.output or "refresh refused, nothing was changed: " \
            "permission denied" in refused.output
    finally:
        owner_conn.execute("DROP OWNED BY refresh_cron")
        owner_conn.execute("DROP ROLE refresh_cron")


@pytest.mark.parametrize("role", ["billing_service", "billing_reporting"])
def test_only_the_refresh_writes_the_rollups(dataset, owner_conn, role):
    with owner_conn.transaction():
        owner_conn.execute(f"SET LOCAL ROLE {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            owner_conn.execute("DELETE FROM reporting_rollups.mrr_summary")
    with owner_conn.transaction():
        owner_conn.execute(f"SET LOCAL ROLE {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            owner_conn.execute("SELECT * FROM reporting_rollups.refreshes")


def test_db_init_keeps_a_rollup_whose_columns_did_not_change_and_refreshes_all(dataset, owner_conn, database_url):
    owner_conn.execute("ALTER TABLE reporting_rollups.past_due ADD COLUMN left_over int")  # a changed definition
    owner_conn.execute("INSERT INTO reporting_rollups.mrr_summary (currency) VALUES ('xxx')")  # a stale row
    table_oids = dict(owner_conn.execute("SELECT relname, oid FROM pg_class "
                                         "WHERE relnamespace = 'reporting_rollups'::regnamespace").fetchall())
    result = apply_schema(database_url, with_mirror=False)
    assert sorted(r.rollup for r in result.refreshed) == ROLLUPS
    oids = dict(owner_conn.execute("SELECT relname, oid FROM pg_class "
                                   "WHERE relnamespace = 'reporting_rollups'::regnamespace").fetchall())
    assert oids["mrr_summary"] == table_oids["mrr_summary"] and oids["past_due"] != table_oids["past_due"]
    for name in ROLLUPS:
        assert rollup_differences(owner_conn, name) == [], name


def test_refresh_before_db_init_says_what_to_do(scratch_database):
    with pytest.raises(RefreshError, match=r"the database has no schema yet: run `flask db init` first"):
        refresh_rollups(scratch_database)


def test_report_on_a_database_without_the_new_schema_fails_in_one_line(runner, dataset, database_url, owner_conn):
    owner_conn.execute("DROP VIEW reporting.rollup_freshness")
    try:
        result = runner.invoke(args=["report", "list"])
        assert result.exit_code == 1
        assert result.output.splitlines() == [
            'Error: relation "reporting.rollup_freshness" does not exist: the reporting schema is missing or out '
            "of date, run `flask db init`"]
    finally:
        apply_schema(database_url, with_mirror=False)


def test_refresh_over_unreachable_database_fails_cleanly(app_config):
    result = invoke_cli({**app_config, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, "report", "refresh")
    assert result.exit_code == 1
    assert "Error: cannot connect to the database: connection failed: " in result.output


def test_show_pages_a_table_and_says_how_to_get_every_row(runner, dataset):
    result = runner.invoke(args=["report", "show", "mrr", "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 + 2 + 1
    total = len(runner.invoke(args=["report", "show", "mrr", "--limit", "0"]).stdout.splitlines()) - 3
    assert total > 2
    assert lines[-1] == (f"(the first 2 rows of {total}: --limit N shows N, --limit 0 all of them, "
                         "--csv streams them all)")
    one = runner.invoke(args=["report", "show", "mrr", "--limit", "1"]).stdout.splitlines()
    assert one[-1].startswith(f"(the first row of {total}: ")
    csv_lines = runner.invoke(args=["report", "show", "mrr", "--csv", "--limit", "3"]).stdout.splitlines()
    assert len(csv_lines) == 1 + 3


def test_show_says_how_fresh_a_precomputed_report_is(runner, dataset):
    table = runner.invoke(args=["report", "show", "mrr_summary"])
    assert table.stdout.splitlines()[-1].startswith("mrr_summary: precomputed, refreshed ")
    assert table.stdout.splitlines()[-1].endswith("; --live computes it now")
    as_csv = runner.invoke(args=["report", "show", "mrr_summary", "--csv"])
    assert as_csv.stdout.splitlines()[0] == "currency,customers,subscriptions,mrr_minor_units,mrr,arr"
    assert "precomputed" not in as_csv.stdout and "mrr_summary: precomputed, refreshed " in as_csv.stderr
    listed = runner.invoke(args=["report", "list"]).output
    assert "mrr_summary\n    Monthly recurring revenue per currency" in listed
    assert re.search(r"Precomputed: as of the last `flask report refresh`.*\n    refreshed \d+ seconds ago", listed)


def test_live_is_for_precomputed_reports_only(runner, dataset):
    result = runner.invoke(args=["report", "show", "active_subscriptions", "--live"])
    assert result.exit_code == 1
    assert "Error: active_subscriptions is computed live already; --live is for the precomputed reports: " \
        "data_quality, monthly_movements" in result.output
    live = runner.invoke(args=["report", "show", "subscription_status_counts", "--live", "--where", "status=active"])
    assert live.stdout.splitlines()[2] == "active              7" and "precomputed" not in live.output


def test_major_units_keep_each_currencys_decimals(owner_conn):
    assert owner_conn.execute("SELECT reporting.to_major(1234, 'kwd'), reporting.to_major(1999, 'usd'), "
                              "reporting.to_major(3000, 'JPY'), reporting.to_major(1234.5, 'usd')").fetchone() == \
        (Decimal("1.234"), Decimal("19.99"), Decimal("3000"), Decimal("12.35"))

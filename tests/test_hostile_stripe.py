"""Issue 13, Stripe side: a slow or hanging Stripe never takes the pages down with it.

No connection is held while Stripe is asked (checkout included); at most
STRIPE_MAX_CONCURRENT_CALLS calls are in flight per process, the rest answer
503 at once; one call's worst case is checked against the worker timeout, and
a call that could no longer end within the request's time is not started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug import Response

from billing_app import create_app
from billing_app.config import load_settings
from billing_app.stripe_client import check_worker_timeout, worst_case_seconds
from tests.conftest import AuthActions, csrf_token_from, customer_app
from tests.stripe_stand_in import requests_to, sent_form
from tests.test_checkout import CHECKOUT, CHECKOUT_URL, CUSTOMERS, answer_checkout, answer_customer, subscribe

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = "/v1/billing_portal/sessions"


@contextmanager
def hanging_until_released(stripe_api, path: str):
    """Stripe takes ``path`` and does not answer until the block ends; yields the event set on arrival."""
    arrived, released = threading.Event(), threading.Event()

    def hang(request):
        arrived.set()
        released.wait(10)
        return Response("{}", content_type="application/json")

    stripe_api.expect_request(path, method="POST").respond_with_handler(hang)
    try:
        yield arrived
    finally:
        released.set()


def test_past_the_stripe_slots_a_portal_click_is_503_at_once_and_pages_still_answer(app_config, stripe_api, mirror):
    with hanging_until_released(stripe_api, SESSIONS) as arrived, customer_app(
            app_config, mirror, STRIPE_MAX_CONCURRENT_CALLS="1", STRIPE_TIMEOUT="8") as (app, client, token):
        first = threading.Thread(target=lambda: client.post("/api/customer_portal", headers={"X-CSRFToken": token}))
        first.start()
        assert arrived.wait(5)  # the first call is in Stripe's hands, hanging
        other = app.test_client()
        AuthActions(other).signup("other@example.com", "correct horse battery")
        mirror.customer("cus_other", mirror.conn.execute(
            "SELECT id FROM billing_app.users WHERE email = 'other@example.com'").fetchone()[0])
        other_token = csrf_token_from(other.get("/").get_data(as_text=True))
        busy = other.post("/api/customer_portal", headers={"X-CSRFToken": other_token})
        assert busy.status_code == 503
        assert busy.get_json()["error"]["code"] == "payments_busy"
        assert busy.headers["Retry-After"] == "5"
        assert other.get("/account").status_code == 200  # pages answer while Stripe hangs
    first.join(10)
    assert len(requests_to(stripe_api, SESSIONS)) == 1  # the refused call never reached Stripe


def test_worst_case_of_one_call_and_the_worker_timeout():
    settings = load_settings({"STRIPE_TIMEOUT": "8", "STRIPE_MAX_NETWORK_RETRIES": "2"})
    assert worst_case_seconds(settings) == 8 * 3 + 0.5 + 1.0
    assert check_worker_timeout(settings) is None  # WORKER_TIMEOUT=30 by default
    slow = load_settings({"STRIPE_TIMEOUT": "10", "STRIPE_MAX_NETWORK_RETRIES": "2"})
    assert check_worker_timeout(slow) == (
        "one Stripe call can take 31.5 s (STRIPE_TIMEOUT=10 x 3 tries, with backoff), not less than "
        "WORKER_TIMEOUT=30 s: lower STRIPE_TIMEOUT or STRIPE_MAX_NETWORK_RETRIES, or raise WORKER_TIMEOUT")
    assert check_worker_timeout({**slow, "WORKER_TIMEOUT": 0}) is None  # the server never times out


def test_the_app_refuses_to_start_when_a_stripe_call_outlasts_the_worker_timeout(app_config):
    with pytest.raises(SystemExit, match=r"^billing_app: one Stripe call can take 4.5 s .* not less than "
                                         r"WORKER_TIMEOUT=4 s: .*, or raise WORKER_TIMEOUT$"):
        create_app({**app_config, "STRIPE_TIMEOUT": "2", "STRIPE_MAX_NETWORK_RETRIES": "1", "WORKER_TIMEOUT": "4"})


def test_gunicorn_refuses_to_start_when_a_stripe_call_outlasts_its_timeout():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "GUNICORN_", "WORKER_"))}
    code = "exec(open('gunicorn.conf.py').read())"
    fits = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**env, "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT)})
    assert fits.returncode == 0, fits.stderr
    too_slow = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env={**env, "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT), "STRIPE_TIMEOUT": "15"})
    assert too_slow.returncode != 0
    assert too_slow.stderr.strip().splitlines() == [
        "billing_app: one Stripe call can take 46.5 s (STRIPE_TIMEOUT=15 x 3 tries, with backoff), not less than "
        "WORKER_TIMEOUT=30 s: lower STRIPE_TIMEOUT or STRIPE_MAX_NETWORK_RETRIES, or raise WORKER_TIMEOUT"]
    malformed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                               env={**env, "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT), "WORKER_TIMEOUT": "soon"})
    assert malformed.returncode != 0
    assert malformed.stderr.strip().splitlines() == [
        "billing_app: WORKER_TIMEOUT='soon' is invalid: it is not a number; expected 30 (seconds the server gives "
        "one request, gunicorn's timeout; 0: no limit): one Stripe call at its worst must fit, and a call that "
        "could not end in time is not started"]


def test_flask_run_refuses_a_stripe_call_that_outlasts_the_worker_timeout_and_commands_do_not_care(
        tmp_path, database_url):
    """`flask run` serves, so it gets the check; `flask report list` calls no Stripe and starts anyway."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FLASK_", "DATABASE_", "WORKER_"))}
    env.update(FLASK_SKIP_DOTENV="1", PYTHONPATH=str(ROOT), FLASK_APP="billing_app:create_app(cli=True)",
               DATABASE_URL=database_url, STRIPE_TIMEOUT="15", INSTANCE_PATH=str(tmp_path))
    run = subprocess.run([sys.executable, "-m", "flask", "run", "--port", "0"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env=env)
    assert run.returncode != 0
    assert "one Stripe call can take 46.5 s" in run.stderr and "WORKER_TIMEOUT=30 s" in run.stderr
    report = subprocess.run([sys.executable, "-m", "flask", "report", "list"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env=env)
    assert report.returncode == 0, report.stderr


def test_a_first_checkout_waiting_on_stripe_holds_no_connection(app_config, stripe_api, mirror):
    """A pool of one connection: while a new customer's create hangs in Stripe, another user's page answers."""
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    with hanging_until_released(stripe_api, "/v1/customers") as arrived, customer_app(
            app_config, mirror, None, DATABASE_POOL_MIN_SIZE="1", DATABASE_POOL_MAX_SIZE="1",
            STRIPE_TIMEOUT="8") as (app, client, token):
        first = threading.Thread(target=lambda: client.post(
            "/checkout", data={"csrf_token": token, "price": "price_pro_monthly"}))
        first.start()
        assert arrived.wait(5)  # the customer create is in Stripe's hands, hanging
        other = app.test_client()
        AuthActions(other).signup("other@example.com", "correct horse battery")
        assert other.get("/account").status_code == 200
        assert other.get("/pricing").status_code == 200
    first.join(10)


def test_a_second_stripe_call_that_could_outlast_the_worker_timeout_is_not_started(app_config, stripe_api, mirror,
                                                                                   owner_conn):
    """A first checkout makes two calls. One call may take 4.5 s at worst (2 s x 2 tries, with backoff) and the
    server gives a request 6 s: after a 1.8 s customer create, the session call could end past the timeout, so
    the click answers 503 with the customer kept, and the retry makes only the session call."""
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    answer_customer(stripe_api, "cus_new", delay=1.8)
    answer_checkout(stripe_api)
    with customer_app(app_config, mirror, None, STRIPE_TIMEOUT="2", STRIPE_MAX_NETWORK_RETRIES="1",
                      WORKER_TIMEOUT="6") as (app, client, token):
        slow = subscribe(client, token)
        assert slow.status_code == 503
        assert slow.headers["Retry-After"] == "5"
        assert "Payments are slow right now. Please try again in a minute." in slow.get_data(as_text=True)
        assert len(requests_to(stripe_api, CUSTOMERS)) == 1 and requests_to(stripe_api, CHECKOUT) == []
        assert owner_conn.execute("SELECT stripe_customer_id FROM billing_app.remembered_customers"
                                  ).fetchall() == [("cus_new",)]
        retry = subscribe(client, token)
        assert retry.status_code == 303 and retry.headers["Location"] == CHECKOUT_URL
        assert len(requests_to(stripe_api, CUSTOMERS)) == 1  # no second create
        assert sent_form(requests_to(stripe_api, CHECKOUT)[0])["customer"] == "cus_new"

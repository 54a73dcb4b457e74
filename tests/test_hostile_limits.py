"""Issue 13, rate limits: password guessing, account flooding, checkout past the portal's budget, API
polling; 429 with Retry-After, and a limiter store that is down counts in memory instead (never a 500)."""

from __future__ import annotations

import logging
import types
from pathlib import Path

import pytest

from tests.conftest import AuthActions, csrf_token_from, customer_app
from tests.stripe_stand_in import answer_portal_session, requests_to

PASSWORD = "correct horse battery"


def wrong_password(client, email="me@example.com", address="127.0.0.1"):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": "not the password", "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_guessing_one_accounts_password_is_stopped_even_for_the_right_one(make_app, owner_conn):
    app = make_app(SIGN_IN_RATE_LIMIT="5 per minute", SIGN_IN_IP_RATE_LIMIT="1000 per minute")
    client = app.test_client()
    AuthActions(client).signup("me@example.com", PASSWORD)
    AuthActions(client).logout()
    assert [wrong_password(client).status_code for _ in range(5)] == [401] * 5
    refused = wrong_password(client)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert AuthActions(client).login("me@example.com", PASSWORD).status_code == 429  # until the window passes
    assert AuthActions(app.test_client()).login("other@example.com", PASSWORD).status_code == 401  # not others


def test_failing_on_purpose_from_elsewhere_does_not_lock_the_owner_out(make_app, owner_conn):
    """Failures count per email *and* address, and only failures: the guesser spends their own budget."""
    app = make_app(SIGN_IN_RATE_LIMIT="3 per hour", SIGN_IN_IP_RATE_LIMIT="1000 per minute")
    owner = app.test_client()
    AuthActions(owner).signup("me@example.com", PASSWORD)
    AuthActions(owner).logout()
    attacker = app.test_client()
    assert [wrong_password(attacker, " ME@example.com ", "10.0.0.66").status_code for _ in range(4)] == \
        [401, 401, 401, 429]
    assert AuthActions(owner).login("me@example.com", PASSWORD).status_code == 302
    AuthActions(owner).logout()
    # the owner's own slips are forgiven by a success
    assert [wrong_password(owner).status_code for _ in range(2)] == [401, 401]
    assert AuthActions(owner).login("me@example.com", PASSWORD).status_code == 302
    AuthActions(owner).logout()
    assert [wrong_password(owner).status_code for _ in range(3)] == [401, 401, 401]


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(make_app):
    app = make_app(SIGN_IN_IP_RATE_LIMIT="2 per minute", TRUSTED_PROXY_COUNT="1")
    client = app.test_client()

    def via_proxy(forwarded):
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        return client.post("/login", data={"email": "x@example.com", "password": "nope", "csrf_token": token},
                           headers={"X-Forwarded-For": forwarded}).status_code
    assert [via_proxy("203.0.113.1") for _ in range(3)] == [401, 401, 429]
    assert via_proxy("203.0.113.2") == 401  # another visitor behind the same proxy


def test_one_address_trying_many_accounts_is_stopped(make_app):
    app = make_app(SIGN_IN_IP_RATE_LIMIT="4 per minute")
    client = app.test_client()
    answers = [wrong_password(client, f"victim{n}@example.com").status_code for n in range(5)]
    assert answers == [401, 401, 401, 401, 429]


def test_account_flooding_from_one_address_is_stopped(make_app, owner_conn):
    app = make_app(SIGN_UP_RATE_LIMIT="2 per hour")
    answers = [AuthActions(app.test_client()).signup(f"new{n}@example.com", PASSWORD).status_code for n in range(3)]
    assert answers == [302, 302, 429]
    assert owner_conn.execute("SELECT count(*) FROM billing_app.users").fetchone()[0] == 2


def test_checkout_spends_the_portal_budget(app_config, mirror, stripe_api):
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.price("price_pro_yearly", "prod_pro", interval="year")
    mirror.subscription("sub_1", "cus_me", items=[("price_pro_monthly", 1)])
    answer_portal_session(stripe_api)
    with customer_app(app_config, mirror, PORTAL_RATE_LIMIT="2 per minute") as (app, client, token):
        assert client.post("/api/customer_portal", headers={"X-CSRFToken": token}).status_code == 200
        # a live subscription: checkout opens the portal's change-plan flow, from the same budget
        assert client.post("/checkout", data={"csrf_token": token, "price": "price_pro_yearly"}).status_code == 303
        assert client.post("/checkout", data={"csrf_token": token, "price": "price_pro_yearly"}).status_code == 429
    assert len(requests_to(stripe_api, "/v1/billing_portal/sessions")) == 2


def test_the_json_summary_is_limited_per_user(app_config, mirror):
    with customer_app(app_config, mirror, API_RATE_LIMIT="3 per minute") as (app, client, token):
        answers = [client.get("/api/billing/summary").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_a_summary_poll_over_its_limit_costs_the_user_row_only(app_config, mirror, statements):
    """The JSON summary's rate limit comes before the page's statement (it is not read with the sign-in)."""
    with customer_app(app_config, mirror, API_RATE_LIMIT="1 per minute") as (app, client, token):
        assert client.get("/api/billing/summary").status_code == 200
        statements.clear()
        assert client.get("/api/billing/summary").status_code == 429
    assert len(statements) == 1 and "billing_app.users" in statements[0] and "billing_mirror" not in statements[0]


def test_a_store_that_is_down_counts_in_memory_and_logs_it(make_app, caplog):
    app = make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0", SIGN_IN_IP_RATE_LIMIT="2 per minute")
    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        answers = [wrong_password(client, f"x{n}@example.com").status_code for n in range(3)]
    assert answers == [401, 401, 429]
    assert "rate limit storage failed" in caplog.text and "counting in this process's memory" in caplog.text


def test_in_memory_counters_start_no_thread_per_hit_and_are_swept_now_and_then():
    """memory://: limits' own storage starts a timer thread 10 ms after a hit that walks every counter
    with the GIL held (0.4 ms per 5,000 users, up to 100 times a second); ours sweeps on the hit that
    passes by once SWEEP_SECONDS have gone, and an expired counter is forgotten on its next read anyway."""
    from limits import parse, strategies

    from billing_app.rate_limits import MemoryCounters, counters
    store = counters("memory://")
    assert isinstance(store, MemoryCounters)
    limiter, limit = strategies.FixedWindowRateLimiter(store), parse("2 per minute")
    timer = store.timer
    timer.join()  # the one limits starts with the storage: over, so limits' own would start another
    assert [limiter.hit(limit, "user", str(n % 50)) for n in range(100)] == [True] * 100
    assert store.timer is timer  # no new timer thread
    assert not limiter.hit(limit, "user", "7")  # counting goes on: the third hit of user 7 in the minute
    for key in list(store.expirations):  # every window over...
        store.expirations[key] = 0
    store._next_sweep = 0  # ...and the sweep due: the next hit sweeps them all
    assert limiter.hit(limit, "user", "new")
    assert [key.split("/")[2] for key in store.storage] == ["new"]


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("storage, workers, warned", [
    ("memory://", 3, True), ("memory://", 1, False), ("redis://127.0.0.1:6379/0", 3, False)])
def test_gunicorn_says_at_start_when_rate_limits_are_counted_per_worker(monkeypatch, storage, workers, warned):
    """memory:// under several workers lets every limit through that many times: one warning at start."""
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", storage)
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    settings = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)
    warnings = []
    arbiter = types.SimpleNamespace(cfg=types.SimpleNamespace(workers=workers),  # what gunicorn hands the hook
                                    log=types.SimpleNamespace(warning=lambda text, *args: warnings.append(text % args)))
    settings["when_ready"](arbiter)
    if warned:
        assert warnings == [
            "billing_app: RATELIMIT_STORAGE_URI is memory://, counted in each of the 3 workers apart: every rate "
            "limit (sign-in failures, password resets, portal sessions) allows up to 3 times its count; set "
            "RATELIMIT_STORAGE_URI=redis://host:6379/0 to share one count"]
    else:
        assert warnings == []

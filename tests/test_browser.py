"""A real headless Chromium: sign in, "Manage subscription", the portal, and back.

The app is served over HTTP from a thread; the Stripe stand-in answers the
session request and serves a stand-in portal page whose return link goes back
to the return_url the app sent.  Needs Debian's chromium (`.ci/run` installs
it); without it the test is skipped locally and fails in CI.
"""

from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from datetime import datetime
from html import escape
from urllib.parse import parse_qs

import pytest
from werkzeug import Response
from werkzeug.serving import make_server

from billing_app import create_app
from tests.conftest import make_config
from tests.stripe_stand_in import requests_to, sent_form

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    if not CHROMIUM:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@contextmanager
def serving(make_app):
    """``make_app(site_url)`` on a real port; yields the site's URL."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    site_url = f"http://127.0.0.1:{server.server_port}"
    app = make_app(site_url)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site_url
    finally:
        server.shutdown()
        app.extensions["billing_db"].close()


@pytest.fixture
def live_app(database_url, stripe_api):
    """The app on a real port, with SITE_URL pointing at it."""
    stripe_base = stripe_api.url_for("").rstrip("/")
    with serving(lambda site: create_app(make_config(database_url, stripe_base, SITE_URL=site))) as site_url:
        yield site_url


@pytest.fixture
def live_host_app(database_url, stripe_api):
    """tests/host_app.py (billing_app mounted under /billing) on a real port."""
    from tests.host_app import create_host_app
    from tests.test_host_app import billing_config
    stripe_base = stripe_api.url_for("").rstrip("/")
    with serving(lambda site: create_host_app(billing_config(database_url, stripe_base, BILLING_SITE_URL=site))
                 ) as site_url:
        yield site_url


@pytest.fixture
def stand_in_portal(stripe_api):
    """Answers session creation with a URL on the stand-in, whose page links back to return_url."""
    return portal_stand_in(stripe_api, stripe_api.url_for)


def portal_stand_in(stripe_api, page_url):
    """The stand-in's sessions, each at ``page_url(path)``, and their pages."""
    sessions = {}

    def create_session(request):
        form = parse_qs(request.get_data(as_text=True))
        session_id = f"bps_{len(sessions) + 1}"
        sessions[session_id] = form["return_url"][0]
        body = {"id": session_id, "object": "billing_portal.session",
                "url": page_url(f"/p/session/{session_id}")}
        import json
        return Response(json.dumps(body), content_type="application/json")

    def portal_page(request):
        session_id = request.path.rsplit("/", 1)[1]
        return Response(f"<!doctype html><title>Billing portal</title><h1>Stand-in Customer Portal</h1>"
                        f'<a id="return" href="{escape(sessions[session_id])}">Return to the app</a>',
                        content_type="text/html")

    stripe_api.expect_request("/v1/billing_portal/sessions", method="POST").respond_with_handler(create_session)
    for n in range(1, 4):
        stripe_api.expect_request(f"/p/session/bps_{n}", method="GET").respond_with_handler(portal_page)
    return sessions


def send_account_form(page, email: str, password: str = "correct horse battery") -> None:
    """Fill the sign-in or sign-up form on the page and send it."""
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")


def subscribed(mirror, customer_id: str, user_id) -> None:
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.customer(customer_id, user_id)
    mirror.subscription("sub_1", customer_id, current_period_end=datetime(2031, 3, 5))


def portal_round_trip(page, account_url: str, customer_id: str, stripe_api, owner_conn) -> None:
    """From the signed-in account page: Manage subscription, the portal, back, and the page catching up."""
    page.wait_for_url(account_url)
    assert "Renews on March 5, 2031" in page.inner_text("main")

    page.click("text=Manage subscription")
    page.wait_for_url(stripe_api.url_for("/p/session/bps_1"))
    assert page.inner_text("h1") == "Stand-in Customer Portal"
    (request,) = requests_to(stripe_api, "/v1/billing_portal/sessions")
    assert sent_form(request) == {"customer": customer_id, "return_url": f"{account_url}?from=portal"}

    page.click("#return")
    page.wait_for_url(f"{account_url}?from=portal")
    notice = page.inner_text("#freshness")
    assert "Changes you made in the billing portal can take a few seconds to appear here." in notice

    # the sync service catches up: the page notices and shows the new state by itself
    owner_conn.execute("UPDATE stripe.subscription SET cancel_at_period_end = true WHERE id = 'sub_1'")
    page.wait_for_url(account_url, timeout=10_000)
    page.wait_for_selector("text=Ends on March 5, 2031", timeout=10_000)


def test_manage_subscription_round_trip_in_chromium(browser, live_app, stand_in_portal, stripe_api, mirror,
                                                    owner_conn, auth):
    auth.signup("browser@example.com", "correct horse battery")
    subscribed(mirror, "cus_browser", owner_conn.execute("SELECT id FROM billing_app.users").fetchone()[0])
    page = browser.new_page()
    page.goto(f"{live_app}/account")
    assert page.url == f"{live_app}/login?next=/account"
    send_account_form(page, "browser@example.com")
    portal_round_trip(page, f"{live_app}/account", "cus_browser", stripe_api, owner_conn)


def test_manage_subscription_round_trip_mounted_in_a_host_app(browser, live_host_app, stand_in_portal, stripe_api,
                                                              mirror, owner_conn):
    """The same journey with billing_app mounted in the host app: the host's sign-in, pages under /billing."""
    from tests.host_app import USERS
    subscribed(mirror, "cus_host", USERS["ada@host.test"].id)
    page = browser.new_page()
    page.goto(f"{live_host_app}/billing/account")
    assert page.url == f"{live_host_app}/login?next=%2Fbilling%2Faccount"
    page.fill("#email", "ada@host.test")
    page.click("button[type=submit]")
    portal_round_trip(page, f"{live_host_app}/billing/account", "cus_host", stripe_api, owner_conn)


def test_a_portal_on_a_stripe_custom_domain_missing_from_the_csp_is_still_reached(browser, live_app, stripe_api,
                                                                                mirror, owner_conn, auth):
    """Stripe answers with a portal on another origin than the CSP's form-action allows (a custom domain
    not in STRIPE_CUSTOM_DOMAINS; here the stand-in by its IP address): Chromium would stop the form's
    303 there, so the app answers a page that goes on by itself, and the customer arrives."""
    custom_domain = stripe_api.url_for("").replace("://localhost:", "://127.0.0.1:").rstrip("/")
    portal_stand_in(stripe_api, lambda path: custom_domain + path)
    auth.signup("custom@example.com", "correct horse battery")
    subscribed(mirror, "cus_custom", owner_conn.execute("SELECT id FROM billing_app.users").fetchone()[0])
    page = browser.new_page()
    page.goto(f"{live_app}/login?next=/account")
    send_account_form(page, "custom@example.com")
    page.wait_for_url(f"{live_app}/account")
    page.click("text=Manage subscription")
    page.wait_for_url(f"{custom_domain}/p/session/bps_1")
    assert page.inner_text("h1") == "Stand-in Customer Portal"

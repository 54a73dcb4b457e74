"""Issue 13, headers: every answer says not to frame it, sniff it or store it, over https to stay on
https, and billing_app's own pages run under a CSP without inline script."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token_from, customer_app
from tests.stripe_stand_in import answer_portal_session


@pytest.fixture
def https_app(make_app):
    return make_app(SITE_URL="https://billing.example.com")


@pytest.mark.parametrize("path", ["/", "/login", "/pricing", "/account", "/api/billing/summary", "/nowhere",
                                  "/terms"])
def test_every_answer_carries_the_headers(https_app, path):
    answer = https_app.test_client().get(path)
    headers = answer.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["Cache-Control"] == "no-store"
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert "form-action 'self' https://checkout.stripe.com https://billing.stripe.com" in policy


def test_no_hsts_over_http_and_static_files_may_be_cached(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    with client.get("/static/billing/style.css") as static:
        assert static.headers.get("Cache-Control") != "no-store"


def test_errors_and_redirects_carry_them_too(client, auth):
    auth.signup("me@example.com", "correct horse battery")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    no_customer = client.post("/api/customer_portal", headers={"X-CSRFToken": token})
    assert no_customer.status_code == 404
    assert no_customer.headers["Cache-Control"] == "no-store" and no_customer.headers["X-Frame-Options"] == "DENY"


def test_billing_pages_have_no_inline_script(client, auth, mirror, owner_conn):
    auth.signup("me@example.com", "correct horse battery")
    mirror.customer("cus_me", owner_conn.execute("SELECT id FROM billing_app.users").fetchone()[0])
    for path in ("/account", "/account?from=portal", "/pricing", "/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "onclick" not in html


def test_mounted_pages_get_the_headers_but_no_csp_unless_set(database_url, stripe_api):
    from tests.host_app import create_host_app
    from tests.test_host_app import billing_config
    config = billing_config(database_url, stripe_api.url_for("").rstrip("/"))
    app = create_host_app(config)
    try:
        client = app.test_client()
        billing = client.get("/billing/pricing")
        assert billing.headers["X-Frame-Options"] == "DENY" and "Content-Security-Policy" not in billing.headers
        assert "Strict-Transport-Security" not in billing.headers  # HSTS covers the host's domain: its call
        assert "X-Frame-Options" not in client.get("/").headers  # the host's own pages are the host's
    finally:
        app.extensions["billing_db"].close()
    app = create_host_app({**config, "BILLING_CONTENT_SECURITY_POLICY": "default-src 'self'"})
    try:
        assert app.test_client().get("/billing/pricing").headers["Content-Security-Policy"] == "default-src 'self'"
    finally:
        app.extensions["billing_db"].close()


def test_stripe_custom_domains_may_receive_the_forms(make_app):
    policy = make_app(STRIPE_CUSTOM_DOMAINS="https://pay.example.com").test_client().get("/pricing").headers[
        "Content-Security-Policy"]
    assert "https://billing.stripe.com https://pay.example.com" in policy


@pytest.mark.parametrize("policy, url, allowed", [
    ("default-src 'self'", "https://anywhere.example/x", True),  # no form-action: forms go anywhere
    ("form-action 'self' https://billing.stripe.com", "https://billing.stripe.com/p/session/1", True),
    ("form-action 'self' https://billing.stripe.com", "https://pay.example.com/p/session/1", False),
    ("form-action 'self'", "http://localhost/account", True),
    ("form-action 'self'", "http://localhost:8000/account", False),
    ("form-action https:", "https://pay.example.com/x", True),
    ("form-action https:", "http://pay.example.com/x", False),
    ("form-action http://pay.example.com", "https://pay.example.com/x", True),  # http allows https
    ("form-action *.example.com", "http://pay.example.com/x", True),
    ("form-action https://*.example.com", "https://example.com/x", False),
    ("form-action https://pay.example.com:8443", "https://pay.example.com/x", False),
    ("form-action https://pay.example.com:*", "https://pay.example.com:8443/x", True),
    ("form-action https://pay.example.com/only/here", "https://pay.example.com/elsewhere", True),  # redirect: no path
    ("form-action 'none'", "https://billing.stripe.com/x", False),
])
def test_which_stripe_pages_a_form_may_reach_under_a_policy(app, policy, url, allowed):
    from billing_app.blueprint import form_may_go_to
    with app.test_request_context("/portal", method="POST"):
        assert form_may_go_to(policy, url) is allowed


@pytest.mark.parametrize("custom_domains, answer", [("", 200), ("https://pay.example.com", 303)])
def test_a_stripe_page_on_a_custom_domain_not_in_the_csp_is_reached_by_a_continue_page(
        app_config, stripe_api, mirror, caplog, custom_domains, answer):
    """The portal's 303 to a domain form-action does not allow would be stopped by the browser: the
    customer gets a page that goes on by itself (a navigation, which form-action does not govern)."""
    url = "https://pay.example.com/p/session/test_1"
    answer_portal_session(stripe_api, url)
    with customer_app(app_config, mirror, STRIPE_CUSTOM_DOMAINS=custom_domains) as (app, client, token):
        response = client.post("/portal", data={"csrf_token": token})
    assert response.status_code == answer
    if answer == 303:
        assert response.headers["Location"] == url
        return
    assert response.headers["Refresh"] == f"0; url={url}"
    assert f'href="{url}">Continue to Stripe</a>' in response.get_data(as_text=True)
    assert ("Stripe sent a customer to https://pay.example.com, where this site's Content-Security-Policy does "
            "not let a form go: add https://pay.example.com to STRIPE_CUSTOM_DOMAINS") in caplog.text

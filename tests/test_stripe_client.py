"""The app's StripeClient: built from config, talking HTTP to the local Stripe stand-in."""

import threading
import time

import pytest
import stripe
from werkzeug import Response

from billing_app.errors import BillingError
from billing_app.stripe_client import stripe_api as app_stripe  # the fixture stripe_api is the stand-in
from tests.conftest import TEST_STRIPE_KEY


def test_client_sends_requests_to_the_configured_base_with_the_key(app, stripe_api):
    stripe_api.expect_request("/v1/customers/cus_123", method="GET").respond_with_json(
        {"id": "cus_123", "object": "customer", "email": "a@example.com"})
    with app.app_context():
        customer = app_stripe().client.v1.customers.retrieve("cus_123")
    assert customer.email == "a@example.com"
    request, _ = stripe_api.log[0]
    assert request.method == "GET" and request.path == "/v1/customers/cus_123"
    assert request.headers["Authorization"] == f"Bearer {TEST_STRIPE_KEY}"
    assert request.headers["Stripe-Version"]


def test_client_gives_up_on_a_hanging_stripe_after_the_timeout(make_app, stripe_api):
    answered = threading.Event()

    def hang(request):
        time.sleep(1.5)
        answered.set()
        return Response("{}", content_type="application/json")
    stripe_api.expect_request("/v1/customers/cus_slow").respond_with_handler(hang)
    app = make_app(STRIPE_TIMEOUT="0.3")
    try:
        with app.app_context(), pytest.raises(stripe.APIConnectionError):
            app_stripe().client.v1.customers.retrieve("cus_slow")
    finally:
        answered.wait(5)  # let the stand-in finish, so the next test starts with an empty log


def test_client_retries_with_one_idempotency_key(make_app, stripe_api):
    stripe_api.expect_request("/v1/customers", method="POST").respond_with_json(
        {"error": {"type": "api_error", "message": "try again"}}, status=500,
        headers={"Stripe-Should-Retry": "true"})
    with make_app(STRIPE_MAX_NETWORK_RETRIES="2").app_context(), pytest.raises(stripe.APIError):
        app_stripe().client.v1.customers.create(params={"email": "a@example.com"})
    requests = [request for request, _ in stripe_api.log]
    assert len(requests) == 3
    keys = {request.headers["Idempotency-Key"] for request in requests}
    assert len(keys) == 1
    assert requests[0].get_data(as_text=True) == "email=a%40example.com"


def test_without_key_in_testing_there_is_no_client(make_app):
    with make_app(STRIPE_SECRET_KEY="").app_context(), pytest.raises(BillingError) as excinfo:
        app_stripe().client
    assert excinfo.value.code == "stripe_not_configured"
    assert excinfo.value.operator == "STRIPE_SECRET_KEY is not set"


def test_no_module_level_api_key(app):
    import stripe
    assert stripe.api_key is None


def test_a_proxy_in_the_environment_at_start_up_carries_every_call(make_app, monkeypatch):
    """Stripe calls go through HTTP(S)_PROXY as the environment had it when the app started (read once,
    not on every call): here a second local server plays the proxy for a Stripe no resolver knows."""
    from pytest_httpserver import HTTPServer
    proxy = HTTPServer(host="127.0.0.1", port=0)
    proxy.start()
    try:
        proxy.expect_request("/v1/customers/cus_123", method="GET").respond_with_json(
            {"id": "cus_123", "object": "customer"})
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url_for("").rstrip("/"))
        app = make_app(STRIPE_API_BASE="http://stripe.invalid")
        monkeypatch.delenv("HTTP_PROXY")  # read at start-up: a later change is not looked up per call
        with app.app_context():
            customer = app_stripe().client.v1.customers.retrieve("cus_123")
        assert customer.id == "cus_123"
        request, _ = proxy.log[0]
        assert request.headers["Host"] == "stripe.invalid"
        assert request.headers["Authorization"] == f"Bearer {TEST_STRIPE_KEY}"
    finally:
        proxy.clear()
        proxy.stop()

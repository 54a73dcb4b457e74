"""The app's StripeClient: built from config, talking HTTP to the local Stripe stand-in."""

import contextlib
import socket
import ssl
import subprocess
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


@contextlib.contextmanager
def counting_server(tls_certificate=None):
    """A Stripe that accepts connections and drops them at once (after the TLS handshake, when
    ``tls_certificate`` gives a (cert, key) pair): yields (its base URL, the list of connections)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    context = None
    if tls_certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls_certificate)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            with contextlib.suppress(OSError):
                if context:
                    conn = context.wrap_socket(conn, server_side=True)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    scheme = "https" if tls_certificate else "http"
    try:
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.close()


def test_a_stripe_that_drops_the_connection_is_tried_again(make_app):
    """A broken connection is worth another try (stripe-python's backoff, the same idempotency key)."""
    with counting_server() as (base, accepted):
        app = make_app(STRIPE_API_BASE=base, STRIPE_MAX_NETWORK_RETRIES="1")
        with app.app_context(), pytest.raises(stripe.APIConnectionError) as excinfo:
            app_stripe().client.v1.customers.retrieve("cus_123")
    assert len(accepted) == 2
    assert excinfo.value.should_retry and "Network error" in str(excinfo.value)


def test_a_certificate_that_does_not_verify_is_refused_and_never_retried(make_app, tmp_path):
    """Calls carry the secret key: a server whose certificate does not chain to Stripe's CA bundle
    (here a self-signed one) gets no request, and no second try."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    with counting_server((cert, key)) as (base, accepted):
        app = make_app(STRIPE_API_BASE=base, STRIPE_MAX_NETWORK_RETRIES="2")
        with app.app_context(), pytest.raises(stripe.APIConnectionError) as excinfo:
            app_stripe().client.v1.customers.retrieve("cus_123")
    assert len(accepted) == 1
    assert not excinfo.value.should_retry and "Could not verify Stripe's SSL certificate" in str(excinfo.value)

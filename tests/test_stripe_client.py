"""The app's StripeClient: built from config, talking HTTP to the local Stripe stand-in."""

import contextlib
import socket
import ssl
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


PROXY_VARIABLES = ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                   "all_proxy")


@pytest.fixture
def proxy_server(monkeypatch):
    """No proxy in the environment, and a local server ready to play one that answers
    GET /v1/customers/cus_123 for a Stripe no resolver knows (STRIPE_API_BASE=http://stripe.invalid)."""
    from pytest_httpserver import HTTPServer
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    proxy = HTTPServer(host="127.0.0.1", port=0)
    proxy.start()
    proxy.expect_request("/v1/customers/cus_123", method="GET").respond_with_json(
        {"id": "cus_123", "object": "customer"})
    try:
        yield proxy
    finally:
        proxy.clear()
        proxy.stop()


def test_a_proxy_in_the_environment_at_start_up_carries_every_call(make_app, monkeypatch, proxy_server):
    """Stripe calls go through HTTP(S)_PROXY as the environment had it when the app started (read once,
    not on every call): here a second local server plays the proxy."""
    monkeypatch.setenv("HTTP_PROXY", proxy_server.url_for("").rstrip("/"))
    app = make_app(STRIPE_API_BASE="http://stripe.invalid")
    monkeypatch.delenv("HTTP_PROXY")  # read at start-up: a later change is not looked up per call
    with app.app_context():
        customer = app_stripe().client.v1.customers.retrieve("cus_123")
    assert customer.id == "cus_123"
    request, _ = proxy_server.log[0]
    assert request.headers["Host"] == "stripe.invalid"
    assert request.headers["Authorization"] == f"Bearer {TEST_STRIPE_KEY}"


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
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        listener.close()


def self_signed_certificate(directory):
    """A certificate for 127.0.0.1 signed by its own key, no CA's: (cert path, key path)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


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
    with counting_server(self_signed_certificate(tmp_path)) as (base, accepted):
        app = make_app(STRIPE_API_BASE=base, STRIPE_MAX_NETWORK_RETRIES="2")
        with app.app_context(), pytest.raises(stripe.APIConnectionError) as excinfo:
            app_stripe().client.v1.customers.retrieve("cus_123")
    assert len(accepted) == 1
    assert not excinfo.value.should_retry and "Could not verify Stripe's SSL certificate" in str(excinfo.value)


def test_certificates_are_checked_against_the_ca_bundle_stripe_python_ships(make_app, tmp_path, monkeypatch):
    """The same server, its certificate put in stripe-python's bundle: the TLS handshake passes (the
    dropped connection after it is then tried again), so the bundle is the one that decides."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setattr(stripe, "ca_bundle_path", str(cert))
    with counting_server((cert, key)) as (base, accepted):
        app = make_app(STRIPE_API_BASE=base, STRIPE_MAX_NETWORK_RETRIES="1")
        with app.app_context(), pytest.raises(stripe.APIConnectionError) as excinfo:
            app_stripe().client.v1.customers.retrieve("cus_123")
    assert len(accepted) == 2 and excinfo.value.should_retry


def test_a_proxy_with_no_scheme_and_a_login_is_used_as_requests_would(make_app, monkeypatch, proxy_server):
    """HTTP_PROXY=user:p%40ss@host:port: http:// is assumed, and the login goes as Proxy-Authorization."""
    import base64
    monkeypatch.setenv("HTTP_PROXY", f"billing:p%40ss@127.0.0.1:{proxy_server.port}")
    with make_app(STRIPE_API_BASE="http://stripe.invalid").app_context():
        assert app_stripe().client.v1.customers.retrieve("cus_123").id == "cus_123"
    request, _ = proxy_server.log[0]
    assert request.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"billing:p@ss").decode()
    assert request.headers["Host"] == "stripe.invalid"


def test_a_proxy_that_cannot_be_used_fails_each_call_not_the_start_up(make_app, monkeypatch, caplog):
    """A SOCKS proxy without PySocks installed: the app starts, and a Stripe call answers 502; the log
    says why, without the proxy's password."""
    import importlib.util
    if importlib.util.find_spec("socks") is not None:
        pytest.skip("PySocks is installed here, so a SOCKS proxy can be used")
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://billing:secret@127.0.0.1:1080")
    app = make_app(STRIPE_API_BASE="http://stripe.invalid", STRIPE_MAX_NETWORK_RETRIES="2")
    with app.app_context(), pytest.raises(BillingError) as excinfo:
        app_stripe().call(lambda client: client.v1.customers.retrieve("cus_123"))
    assert excinfo.value.status == 502 and excinfo.value.code == "stripe_unreachable"
    assert "the proxy socks5://***@127.0.0.1:1080 cannot be used" in caplog.text
    assert "secret" not in caplog.text


@pytest.mark.parametrize("tag, locale", [
    ("de", "de"), ("en_US", "en"), ("EN-gb", "en-GB"), ("pt_BR.UTF-8", "pt-BR"), ("de_DE@euro", "de"),
    ("zh-Hant", "zh-TW"), ("zh_TW", "zh-TW"), ("zh-Hant-HK", "zh-HK"), ("zh-MO", "zh-HK"), ("zh-Hans-CN", "zh"),
    ("es-MX", "es-419"), ("es-US", "es-419"), ("es_ES", "es"), ("no", "nb"), ("nn-NO", "nb"), ("tl", "fil"),
    ("in", "id"), ("en-Latn-GB", "en-GB"), ("tlh", None), ("", None), (None, None), (42, None), ("x" * 100, None),
    ("en-US-u-ca-gregory", "en"), ("fr-FR-u-ca-gregory", "fr"), ("es-ES-u-co-trad", "es"), ("zh-x-hk", "zh"),
    ("zh-Hans-HK", "zh"), ("zh-Hans-TW", "zh"), ("es-150", "es"), ("es-419", "es-419"), ("es_BR", "es-419"),
    ("es-013", "es-419"), ("es-MX-1994", "es-419"),
])
def test_a_users_language_becomes_the_nearest_locale_stripe_speaks(tag, locale):
    from billing_app.stripe_client import STRIPE_LOCALES, stripe_locale
    assert stripe_locale(tag) == locale
    assert locale is None or locale in STRIPE_LOCALES


def test_a_babel_locale_object_is_read_as_its_tag():
    from babel import Locale

    from billing_app.stripe_client import stripe_locale
    assert stripe_locale(Locale.parse("pt_BR")) == "pt-BR"


def test_a_language_the_host_keeps_in_an_enum_or_an_object_that_cannot_say_it():
    import enum

    from billing_app.stripe_client import stripe_locale

    class Language(str, enum.Enum):
        PT_BR = "pt_BR"

    class Broken:
        def __str__(self):
            raise ValueError("no language")

    assert stripe_locale(Language.PT_BR) == "pt-BR"
    assert stripe_locale(Broken()) is None

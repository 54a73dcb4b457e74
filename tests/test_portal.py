"""POST /portal and POST /api/customer_portal against the local Stripe stand-in."""

import logging
import threading
import time

import pytest
from werkzeug import Response

from tests.conftest import TEST_STRIPE_KEY, csrf_token_from, customer_app
from tests.stripe_stand_in import (
    INVALID_API_KEY,
    NO_PORTAL_CONFIGURATION,
    NO_SUCH_CUSTOMER,
    PORTAL_URL,
    RATE_LIMITED,
    answer_error,
    answer_portal_session,
    hanging,
    requests_to,
    sent_form,
)

MIRROR_SOURCES = True  # every test here runs on each mirror source
SESSIONS = "/v1/billing_portal/sessions"
RETURN_URL = "http://billing.test/account?from=portal"


@pytest.fixture
def customer(mirror, user):
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.price("price_pro_yearly", "prod_pro", unit_amount=29000, interval="year", nickname="Pro yearly")
    mirror.customer("cus_me", user)
    mirror.subscription("sub_mine", "cus_me")
    return "cus_me"


def click(client, token, **fields):
    return client.post("/portal", data={"csrf_token": token, **fields})


def api(client, token, body=None):
    return client.post("/api/customer_portal", json=body or {}, headers={"X-CSRFToken": token})


def sessions_sent(stripe_api):
    return [sent_form(r) for r in requests_to(stripe_api, SESSIONS)]


# --- the button --------------------------------------------------------------

def test_button_redirects_303_to_a_fresh_session_with_no_store(client, customer, token, stripe_api):
    answer_portal_session(stripe_api)
    response = click(client, token)
    assert response.status_code == 303
    assert response.headers["Location"] == PORTAL_URL
    assert response.headers["Cache-Control"] == "no-store"
    assert sessions_sent(stripe_api) == [{"customer": "cus_me", "return_url": RETURN_URL}]
    request = requests_to(stripe_api, SESSIONS)[0]
    assert request.headers["Authorization"] == f"Bearer {TEST_STRIPE_KEY}"
    assert request.headers["Idempotency-Key"].startswith("billing_app-")


@pytest.mark.parametrize("send", [click, api])
def test_a_click_reads_the_user_and_the_customer_in_one_statement(client, customer, token, stripe_api, statements,
                                                                   send):
    """Built-in accounts: the session's check and the customer lookup go to the database as one
    statement; then the connection is back in the pool while Stripe answers (issue 16)."""
    answer_portal_session(stripe_api)
    statements.clear()
    assert send(client, token).status_code in (200, 303)
    assert len(statements) == 1, statements
    assert "billing_app.users" in statements[0] and "billing_mirror.customers" in statements[0]
    assert sessions_sent(stripe_api) == [{"customer": "cus_me", "return_url": RETURN_URL}]


def test_every_click_creates_a_new_session(client, customer, token, stripe_api):
    answer_portal_session(stripe_api)
    click(client, token)
    click(client, token)
    requests = requests_to(stripe_api, SESSIONS)
    assert len(requests) == 2
    assert requests[0].headers["Idempotency-Key"] != requests[1].headers["Idempotency-Key"]


def test_return_url_comes_from_site_url_not_the_host_header(client, customer, token, stripe_api):
    answer_portal_session(stripe_api)
    client.set_cookie("session", client.get_cookie("session").value, domain="evil.example")
    response = client.post("/portal", data={"csrf_token": token}, base_url="http://evil.example",
                           headers={"X-Forwarded-Host": "evil.example"})
    assert response.status_code == 303
    assert sessions_sent(stripe_api)[0]["return_url"] == RETURN_URL


def test_configured_portal_configuration_is_sent(app_config, stripe_api, mirror):
    answer_portal_session(stripe_api)
    with customer_app(app_config, mirror, STRIPE_PORTAL_CONFIGURATION="bpc_1PxyzABC") as (_, client, token):
        assert click(client, token).status_code == 303
    assert sessions_sent(stripe_api) == [
        {"customer": "cus_me", "return_url": RETURN_URL, "configuration": "bpc_1PxyzABC"}]


def test_users_language_is_sent_as_locale(client, stripe_api, mirror, owner_conn):
    from tests.conftest import AuthActions
    token = csrf_token_from(client.get("/signup").get_data(as_text=True))
    client.post("/signup", data={"email": "de@example.com", "password": "correct horse battery",
                                 "csrf_token": token}, headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    user_id, locale = owner_conn.execute("SELECT id, locale FROM billing_app.users").fetchone()
    assert locale == "de"
    mirror.customer("cus_de", user_id)
    answer_portal_session(stripe_api)
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    click(client, token)
    assert sessions_sent(stripe_api) == [{"customer": "cus_de", "return_url": RETURN_URL, "locale": "de"}]
    del AuthActions


def test_button_not_signed_in_goes_to_login_and_back_to_the_page_it_was_on(client, stripe_api):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = click(client, token)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    response = client.post("/portal", data={"csrf_token": token},
                           headers={"Referer": "http://billing.test/account?x=1"})
    assert response.headers["Location"] == "/login?next=/account%3Fx%3D1"
    response = client.post("/portal", data={"csrf_token": token},
                           headers={"Referer": "https://evil.example/account"})
    assert response.headers["Location"] == "/login"
    assert stripe_api.log == []


def test_button_without_billing_account_goes_back_to_account_with_message(client, user, token, stripe_api):
    response = click(client, token)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert "You do not have a billing account yet. Choose a plan to get started." in page
    assert 'href="/pricing"' in page
    assert stripe_api.log == []


def test_button_without_csrf_token_is_refused(client, customer, stripe_api):
    response = client.post("/portal")
    assert response.status_code == 400
    assert stripe_api.log == []


# --- deep links ----------------------------------------------------------------

AFTER_COMPLETION = {"flow_data[after_completion][type]": "redirect",
                    "flow_data[after_completion][redirect][return_url]": RETURN_URL}


@pytest.mark.parametrize("flow, expected", [
    ("payment_method_update", {"flow_data[type]": "payment_method_update"}),
    ("subscription_cancel", {"flow_data[type]": "subscription_cancel",
                             "flow_data[subscription_cancel][subscription]": "sub_mine"}),
    ("subscription_update", {"flow_data[type]": "subscription_update",
                             "flow_data[subscription_update][subscription]": "sub_mine"}),
])
def test_flow_deep_links(client, customer, token, stripe_api, flow, expected):
    answer_portal_session(stripe_api)
    response = click(client, token, flow=flow, subscription="sub_mine")
    assert response.status_code == 303
    assert sessions_sent(stripe_api) == [
        {"customer": "cus_me", "return_url": RETURN_URL, **expected, **AFTER_COMPLETION}]


def test_subscription_update_confirm_sends_the_item_and_target_price(client, customer, token, stripe_api):
    answer_portal_session(stripe_api)
    response = click(client, token, flow="subscription_update_confirm", subscription="sub_mine",
                     price="price_pro_yearly")
    assert response.status_code == 303
    assert sessions_sent(stripe_api) == [{
        "customer": "cus_me", "return_url": RETURN_URL,
        "flow_data[type]": "subscription_update_confirm",
        "flow_data[subscription_update_confirm][subscription]": "sub_mine",
        "flow_data[subscription_update_confirm][items][0][id]": "si_sub_mine_1",
        "flow_data[subscription_update_confirm][items][0][price]": "price_pro_yearly",
        **AFTER_COMPLETION}]


def test_another_users_subscription_is_404_and_no_stripe_call(client, customer, token, stripe_api, mirror):
    mirror.customer("cus_other", 999)
    mirror.subscription("sub_other", "cus_other")
    response = click(client, token, flow="subscription_cancel", subscription="sub_other")
    assert response.status_code == 404
    assert "That subscription is not one of your current subscriptions." in response.get_data(as_text=True)
    api_response = api(client, token, {"flow": "subscription_cancel", "subscription": "sub_other"})
    assert api_response.status_code == 404
    assert api_response.get_json()["error"]["code"] == "subscription_not_found"
    assert stripe_api.log == []


def test_ended_subscription_is_404(client, customer, token, stripe_api, mirror):
    from datetime import datetime
    mirror.subscription("sub_ended", "cus_me", status="canceled", current_period_end=datetime(2020, 1, 1))
    assert click(client, token, flow="subscription_update", subscription="sub_ended").status_code == 404
    assert stripe_api.log == []


def test_unknown_flow_is_400_listing_valid_flows(client, customer, token, stripe_api):
    response = api(client, token, {"flow": "delete_everything"})
    assert response.status_code == 400
    assert response.get_json() == {"error": {"code": "unknown_flow", "message": (
        "Unknown flow 'delete_everything'; valid flows: payment_method_update, subscription_cancel, "
        "subscription_update, subscription_update_confirm.")}}
    assert click(client, token, flow="delete_everything").status_code == 400
    assert stripe_api.log == []


@pytest.mark.parametrize("fields, code", [
    ({"flow": "subscription_cancel"}, "subscription_required"),
    ({"flow": "subscription_update_confirm", "subscription": "sub_mine"}, "price_required"),
    ({"flow": "subscription_update_confirm", "subscription": "sub_mine", "price": "price_forged"},
     "price_not_available"),
])
def test_missing_or_bad_flow_fields_are_400(client, customer, token, stripe_api, fields, code):
    response = api(client, token, fields)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert stripe_api.log == []


# --- the JSON API ------------------------------------------------------------------

def test_api_returns_the_session_url(client, customer, token, stripe_api):
    answer_portal_session(stripe_api)
    response = api(client, token)
    assert response.status_code == 200
    assert response.get_json() == {"url": PORTAL_URL}
    assert response.headers["Cache-Control"] == "no-store"
    assert sessions_sent(stripe_api) == [{"customer": "cus_me", "return_url": RETURN_URL}]


def test_api_not_signed_in_is_401(client, stripe_api):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = api(client, token)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_api_without_customer_is_404(client, user, token, stripe_api):
    response = api(client, token)
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "no_billing_account", "message":
                                             "You do not have a billing account yet. Choose a plan to get started."}}


def test_api_without_csrf_header_is_400_json(client, customer, stripe_api):
    response = client.post("/api/customer_portal", json={})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert stripe_api.log == []


def test_api_when_stripe_is_not_configured_is_503(app_config, stripe_api, mirror):
    with customer_app(app_config, mirror, None, STRIPE_SECRET_KEY="") as (_, client, token):
        response = api(client, token)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "stripe_not_configured"


def test_api_when_database_is_down_is_503(make_app, client, customer, stripe_api):
    with client.session_transaction() as session:
        saved = dict(session)
    down = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/x", DATABASE_POOL_TIMEOUT="1",
                    WTF_CSRF_ENABLED=False)
    down_client = down.test_client()
    with down_client.session_transaction() as session:
        session.update(saved)
    response = down_client.post("/api/customer_portal", json={})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"


# --- Stripe failures -------------------------------------------------------------

def test_no_portal_configuration_is_503_for_the_customer_and_the_fix_in_the_log(client, customer, token, stripe_api,
                                                                              caplog):
    answer_error(stripe_api, SESSIONS, 400, NO_PORTAL_CONFIGURATION)
    with caplog.at_level(logging.ERROR):
        response = api(client, token)
        page = click(client, token)
    assert response.status_code == 503
    assert response.get_json() == {"error": {"code": "portal_not_configured", "message":
                                             "The billing portal is not available right now. Please try again later, or write to billing@example.com."}}
    assert page.status_code == 503
    html = page.get_data(as_text=True)
    assert "flask portal configure" not in html and 'href="mailto:billing@example.com"' in html
    assert "run `flask portal configure`" in caplog.text  # the operator's part


def test_no_such_customer_is_409(client, customer, token, stripe_api):
    answer_error(stripe_api, SESSIONS, 400, NO_SUCH_CUSTOMER)
    response = api(client, token)
    assert response.status_code == 409
    assert response.get_json()["error"] == {
        "code": "billing_account_not_found",
        "message": "Your billing account could not be found. Please write to billing@example.com."}


def test_authentication_error_is_503_and_the_key_never_shows(client, customer, token, stripe_api, caplog):
    answer_error(stripe_api, SESSIONS, 401, INVALID_API_KEY)
    with caplog.at_level(logging.DEBUG):
        response = api(client, token)
        page = click(client, token)
    assert response.status_code == 503
    assert response.get_json()["error"]["message"] == "Payments are not available right now. Please try again later, or write to billing@example.com."
    assert page.status_code == 503 and "STRIPE_SECRET_KEY" not in page.get_data(as_text=True)
    assert "Stripe refused the API key (AuthenticationError" in caplog.text and "check STRIPE_SECRET_KEY" in caplog.text
    for text in (caplog.text, response.get_data(as_text=True), page.get_data(as_text=True)):
        assert TEST_STRIPE_KEY not in text and "p7dc" not in text


def test_rate_limited_by_stripe_is_502_with_retry_after_at_once(app_config, stripe_api, mirror):
    """No retry loop of our own: the one call's time stays within worst_case_seconds."""
    with customer_app(app_config, mirror, STRIPE_MAX_NETWORK_RETRIES="2") as (_, client, token):
        answer_error(stripe_api, SESSIONS, 429, RATE_LIMITED)
        response = api(client, token)
    assert response.status_code == 502
    assert response.get_json()["error"] == {"code": "stripe_busy",
                                            "message": "Stripe is busy right now. Please try again in a minute."}
    assert response.headers["Retry-After"] == "30"
    assert len(requests_to(stripe_api, SESSIONS)) == 1


def test_network_errors_are_retried_with_the_same_key(app_config, stripe_api, mirror):
    """The first attempt hangs past the timeout; the retry, same key, gets the session."""
    first_done = threading.Event()
    calls = []

    def answer(request):
        calls.append(request.headers["Idempotency-Key"])
        if len(calls) == 1:
            time.sleep(0.8)
            first_done.set()
        return Response('{"id": "bps_1", "object": "billing_portal.session", "url": "%s"}' % PORTAL_URL,
                        content_type="application/json")

    stripe_api.expect_request(SESSIONS, method="POST").respond_with_handler(answer)
    with customer_app(app_config, mirror, STRIPE_MAX_NETWORK_RETRIES="2", STRIPE_TIMEOUT="0.4") as (_, client, token):
        response = api(client, token)
    first_done.wait(5)
    assert response.status_code == 200, response.get_json()
    assert len(calls) >= 2 and len(set(calls)) == 1


def test_hanging_stripe_is_cut_off_by_the_timeout_with_502(app_config, stripe_api, mirror):
    with hanging(stripe_api, SESSIONS), customer_app(app_config, mirror, STRIPE_TIMEOUT="0.5",
                                                     STRIPE_MAX_NETWORK_RETRIES="0") as (_, client, token):
        started = time.monotonic()
        response = api(client, token)
        elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert response.get_json()["error"] == {"code": "stripe_unreachable",
                                            "message": "Stripe did not answer in time. Please try again in a minute."}
    assert response.headers["Retry-After"] == "30"
    assert elapsed < 5  # cut off by the 0.5 s timeout, not by the stand-in letting go


def test_unreachable_stripe_is_502(app_config, stripe_api, mirror):
    with customer_app(app_config, mirror, STRIPE_API_BASE="http://127.0.0.1:1") as (_, client, token):
        response = api(client, token)
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "stripe_unreachable"


# --- abuse control ------------------------------------------------------------------

def signed_in(app, mirror=None, customer=True):
    from tests.conftest import AuthActions
    client = app.test_client()
    AuthActions(client).login("me@example.com", "correct horse battery")
    return client, csrf_token_from(client.get("/").get_data(as_text=True))


def test_portal_sessions_are_rate_limited_per_user_with_retry_after(make_app, stripe_api, mirror, auth):
    auth.signup("me@example.com", "correct horse battery")
    auth.logout()
    auth.signup("other@example.com", "correct horse battery")
    mirror.customer("cus_me", 1)
    mirror.customer("cus_other", 2)
    answer_portal_session(stripe_api)
    app = make_app(PORTAL_RATE_LIMIT="2 per minute")
    client, token = signed_in(app)
    assert click(client, token).status_code == 303
    assert api(client, token).status_code == 200
    limited = api(client, token)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.get_json()["error"]["code"] == "too_many_requests"
    assert click(client, token).status_code == 429
    # another user has their own budget
    other = app.test_client()
    from tests.conftest import AuthActions
    AuthActions(other).login("other@example.com", "correct horse battery")
    assert api(other, csrf_token_from(other.get("/").get_data(as_text=True))).status_code == 200
    assert len(requests_to(stripe_api, SESSIONS)) == 3


def redis_available() -> bool:
    import socket
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")
@pytest.mark.sources("sequin")  # nothing here reads the mirror; and the process-wide limiter keeps its
# first RATELIMIT_KEY_PREFIX (flask-limiter), so a second run in one process would share the first's budget
def test_rate_limit_storage_is_shared_between_processes(make_app, stripe_api, mirror, auth):
    """Two app instances (as two gunicorn workers) on one Redis share one budget."""
    import uuid
    auth.signup("me@example.com", "correct horse battery")
    mirror.customer("cus_me", 1)
    answer_portal_session(stripe_api)
    shared = {"PORTAL_RATE_LIMIT": "2 per minute", "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
              "RATELIMIT_KEY_PREFIX": f"billing_app_test_{uuid.uuid4().hex}"}
    first, second = make_app(**shared), make_app(**shared)
    client_a, token_a = signed_in(first)
    client_b, token_b = signed_in(second)
    assert api(client_a, token_a).status_code == 200
    assert api(client_b, token_b).status_code == 200
    assert api(client_a, token_a).status_code == 429
    assert api(client_b, token_b).status_code == 429


def test_no_database_connection_is_held_while_waiting_for_stripe(app_config, stripe_api, mirror):
    """With a pool of one connection, another request can query while a portal click waits on Stripe."""
    seen, running = [], {}

    def answer(request):
        pool = running["app"].extensions["billing_db"]
        with pool.connection() as conn:  # DatabaseUnavailable if the click still held the only connection
            seen.append(conn.execute("SELECT 1 AS ok").fetchone()["ok"])
        return Response('{"id": "bps_1", "object": "billing_portal.session", "url": "%s"}' % PORTAL_URL,
                        content_type="application/json")

    stripe_api.expect_request(SESSIONS, method="POST").respond_with_handler(answer)
    with customer_app(app_config, mirror, DATABASE_POOL_MIN_SIZE="1", DATABASE_POOL_MAX_SIZE="1",
                      DATABASE_POOL_TIMEOUT="1") as (app, client, token):
        running["app"] = app
        assert api(client, token).status_code == 200
    assert seen == [1]


def test_a_command_opens_a_session_without_a_request(app, customer, user, stripe_api):
    """The service takes the database, Stripe and the settings as arguments: a command, a job or a
    test calls it in an app context alone, and the session Stripe gets is the button's."""
    from billing_app.billing import state
    from billing_app.db import database
    from billing_app.hosted_pages.portal import create_portal_session
    from billing_app.identity import BillingUser
    from billing_app.stripe_client import stripe_api as app_stripe
    answer_portal_session(stripe_api)
    with app.app_context():
        url = create_portal_session(database(), app_stripe(), state().settings, BillingUser(str(user)),
                                    flow="subscription_cancel", subscription_id="sub_mine")
    assert url == PORTAL_URL
    assert sessions_sent(stripe_api) == [{
        "customer": "cus_me", "return_url": RETURN_URL, "flow_data[type]": "subscription_cancel",
        "flow_data[after_completion][type]": "redirect",
        "flow_data[after_completion][redirect][return_url]": RETURN_URL,
        "flow_data[subscription_cancel][subscription]": "sub_mine"}]


@pytest.mark.parametrize("body, content_type", [
    ('{"flow": "subscription_cancel", "subscription": "sub_mine"}', "text/plain;charset=UTF-8"),
    ("<flow>subscription_cancel</flow>", "application/xml"),
    ("flow=subscription_cancel", None),
])
def test_portal_api_body_of_another_type_is_415_not_a_plain_session(app_config, mirror, stripe_api, body,
                                                                     content_type):
    """JSON sent as text/plain (fetch() without a Content-Type) would lose its flow without a word."""
    with customer_app(app_config, mirror) as (app, client, token):
        answer = client.post("/api/customer_portal", data=body, content_type=content_type,
                             headers={"X-CSRFToken": token})
        assert answer.status_code == 415, answer.get_data(as_text=True)
        assert answer.get_json()["error"] == {
            "code": "unsupported_media_type",
            "message": "Send the fields as JSON (Content-Type: application/json) or as a form."}
        answer_portal_session(stripe_api)
        empty = client.post("/api/customer_portal", content_type="text/plain", headers={"X-CSRFToken": token})
        assert empty.status_code == 200, empty.get_data(as_text=True)  # no body, no fields lost
    assert len(requests_to(stripe_api, "/v1/billing_portal/sessions")) == 1


@pytest.mark.parametrize("body, content_type, code", [
    ("[1, 2]", "application/json", "invalid_json"),
    ('"portal"', "application/json", "invalid_json"),
    ("{not json", "application/json", "invalid_json"),
    ('{"flow": {"type": "x"}}', "application/json", "invalid_field"),
    ('{"subscription": 7}', "application/json", "invalid_field"),
    ('{"price": "price\\u0000x"}', "application/json", "invalid_field"),
    ("subscription=sub%00x", "application/x-www-form-urlencoded", "invalid_field"),
])
def test_portal_api_bad_bodies_are_400_and_reach_no_stripe(app_config, mirror, stripe_api, body, content_type, code):
    with customer_app(app_config, mirror) as (app, client, token):
        answer = client.post("/api/customer_portal", data=body, content_type=content_type,
                             headers={"X-CSRFToken": token})
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert answer.get_json()["error"]["code"] == code
    assert requests_to(stripe_api, "/v1/billing_portal/sessions") == []

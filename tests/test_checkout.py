"""POST /checkout against the mirror and the local Stripe stand-in (what choosing a plan does for a
customer who has one: tests/test_plans.py)."""

import threading
import time

import pytest
from werkzeug import Response

from billing_app.hosted_pages.checkout import customer_creation_key
from billing_app.identity import BillingUser
from tests.conftest import AuthActions, csrf_token_from, customer_app

MIRROR_SOURCES = True  # every test here runs on each mirror source
from tests.stripe_stand_in import NO_SUCH_CUSTOMER, answer_error, hanging, requests_to, sent_form
from tests.test_account import text_of

CUSTOMERS = "/v1/customers"
CHECKOUT = "/v1/checkout/sessions"
CHECKOUT_URL = "https://checkout.stripe.com/c/pay/cs_test_a1"


def remember(conn, user, customer_id: str) -> None:
    """The app created ``customer_id`` for ``user`` at checkout; the mirror does not have it yet."""
    conn.execute("INSERT INTO billing_app.remembered_customers (user_id, stripe_customer_id) VALUES (%s, %s)",
                 (str(user), customer_id))


@pytest.fixture
def catalog(mirror, owner_conn):
    mirror.product("prod_pro", "Pro", description="For growing teams")
    mirror.product("prod_seats", "Extra seats")
    mirror.product("prod_retired", "Retired", active=False)
    mirror.product("prod_deleted", "Deleted", deleted=True)
    mirror.price("price_pro_monthly", "prod_pro", nickname="Pro monthly", unit_amount=2900)
    mirror.price("price_pro_yearly", "prod_pro", nickname="Pro yearly", unit_amount=29000, interval="year")
    mirror.price("price_pro_jpy", "prod_pro", nickname="Pro Japan", currency="jpy", unit_amount=3000)
    mirror.price("price_seat", "prod_seats", nickname="Per seat", currency="eur", unit_amount=500)
    mirror.price("price_inactive", "prod_pro", nickname="Old monthly", unit_amount=1900, active=False)
    mirror.price("price_deleted", "prod_pro", nickname="Gone monthly", unit_amount=2500, deleted=True)
    mirror.price("price_setup", "prod_pro", nickname="Setup fee", interval=None)
    mirror.price("price_retired_product", "prod_retired", nickname="Retired monthly")
    mirror.price("price_deleted_product", "prod_deleted", nickname="Deleted monthly")
    return mirror


def answer_customer(stripe_api, customer_id="cus_new", delay=0.0):
    def create(request):
        time.sleep(delay)
        return Response('{"id": "%s", "object": "customer"}' % customer_id, content_type="application/json")
    stripe_api.expect_request(CUSTOMERS, method="POST").respond_with_handler(create)


def answer_checkout(stripe_api):
    stripe_api.expect_request(CHECKOUT, method="POST").respond_with_json(
        {"id": "cs_test_a1", "object": "checkout.session", "url": CHECKOUT_URL})


def subscribe(client, token, price="price_pro_monthly"):
    return client.post("/checkout", data={"csrf_token": token, "price": price})


# --- /checkout -----------------------------------------------------------

def test_checkout_for_new_user_creates_one_customer_and_a_session(client, catalog, user, token, stripe_api,
                                                                   owner_conn):
    answer_customer(stripe_api)
    answer_checkout(stripe_api)
    response = subscribe(client, token)
    assert response.status_code == 303
    assert response.headers["Location"] == CHECKOUT_URL
    assert response.headers["Cache-Control"] == "no-store"
    (customer,) = requests_to(stripe_api, CUSTOMERS)
    assert sent_form(customer) == {"email": "me@example.com", "metadata[user_id]": str(user)}
    assert customer.headers["Idempotency-Key"] == customer_creation_key(BillingUser(str(user), "me@example.com"))
    (session,) = requests_to(stripe_api, CHECKOUT)
    assert sent_form(session) == {
        "mode": "subscription",
        "customer": "cus_new",
        "client_reference_id": str(user),
        "line_items[0][price]": "price_pro_monthly",
        "line_items[0][quantity]": "1",
        "success_url": "http://billing.test/account?from=checkout",
        "cancel_url": "http://billing.test/pricing",
    }
    assert owner_conn.execute("SELECT user_id, stripe_customer_id FROM billing_app.remembered_customers"
                              ).fetchall() == [(str(user), "cus_new")]


def test_two_clicks_during_the_sync_lag_make_one_customer(client, catalog, user, token, stripe_api):
    answer_customer(stripe_api)
    answer_checkout(stripe_api)
    assert subscribe(client, token).status_code == 303
    assert subscribe(client, token, "price_pro_yearly").status_code == 303
    assert len(requests_to(stripe_api, CUSTOMERS)) == 1
    sessions = [sent_form(r) for r in requests_to(stripe_api, CHECKOUT)]
    assert [s["customer"] for s in sessions] == ["cus_new", "cus_new"]


def test_two_simultaneous_clicks_make_one_customer(app, catalog, user, stripe_api, auth, owner_conn):
    """Two requests at once (two tabs): both ask Stripe with the one key per user, which Stripe answers
    with one customer; nothing is locked while Stripe is asked, and one customer is remembered."""
    answer_customer(stripe_api, delay=0.5)
    answer_checkout(stripe_api)
    clients = []
    for _ in range(2):
        c = app.test_client()
        AuthActions(c).login("me@example.com", "correct horse battery")
        clients.append((c, csrf_token_from(c.get("/pricing").get_data(as_text=True))))
    results = []
    threads = [threading.Thread(target=lambda c=c, t=t: results.append(subscribe(c, t).status_code))
               for c, t in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == [303, 303]
    keys = {r.headers["Idempotency-Key"] for r in requests_to(stripe_api, CUSTOMERS)}
    assert keys == {customer_creation_key(BillingUser(str(user), "me@example.com"))}
    assert [sent_form(r)["customer"] for r in requests_to(stripe_api, CHECKOUT)] == ["cus_new", "cus_new"]
    assert owner_conn.execute("SELECT count(*) FROM billing_app.remembered_customers").fetchone()[0] == 1


def test_checkout_reuses_the_mirrored_customer(client, catalog, user, token, stripe_api):
    catalog.customer("cus_mirrored", user)
    answer_checkout(stripe_api)
    assert subscribe(client, token).status_code == 303
    assert requests_to(stripe_api, CUSTOMERS) == []
    assert sent_form(requests_to(stripe_api, CHECKOUT)[0])["customer"] == "cus_mirrored"


def test_the_mirror_wins_once_it_has_the_customer(client, catalog, user, token, stripe_api, owner_conn):
    remember(owner_conn, user, "cus_remembered")
    assert client.get("/api/billing/summary").get_json()["customer"] == "cus_remembered"
    # the sync service mirrors it, deleted meanwhile: the mirror's answer (none) wins
    catalog.customer("cus_remembered", user, deleted=True)
    assert client.get("/api/billing/summary").get_json()["customer"] is None


def test_the_mirrored_customer_replaces_the_remembered_one(client, catalog, user, owner_conn):
    remember(owner_conn, user, "cus_remembered")
    catalog.customer("cus_remembered", user)
    catalog.subscription("sub_1", "cus_remembered")
    summary = client.get("/api/billing/summary").get_json()
    assert summary["customer"] == "cus_remembered" and summary["plan"] == "subscribed"


def test_remembered_customer_reaches_the_portal_during_the_lag(client, catalog, user, token, stripe_api,
                                                               owner_conn):
    remember(owner_conn, user, "cus_remembered")
    stripe_api.expect_request("/v1/billing_portal/sessions", method="POST").respond_with_json(
        {"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.com/p/session/x"})
    assert client.post("/portal", data={"csrf_token": token}).status_code == 303
    assert sent_form(requests_to(stripe_api, "/v1/billing_portal/sessions")[0])["customer"] == "cus_remembered"


@pytest.mark.parametrize("price", ["price_forged", "price_inactive", "price_deleted", "price_setup",
                                   "price_retired_product", "price_deleted_product", ""])
def test_forged_or_unavailable_price_is_400_and_no_stripe_call(client, catalog, user, token, stripe_api, price):
    response = subscribe(client, token, price)
    assert response.status_code == 400
    assert "That plan is not available. Choose one on the plans page." in response.get_data(as_text=True)
    assert stripe_api.log == []


def test_checkout_not_signed_in_goes_to_login_and_back_to_pricing(client, catalog, stripe_api):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/checkout", data={"csrf_token": token, "price": "price_pro_monthly"},
                           headers={"Referer": "http://billing.test/pricing"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/pricing"
    assert stripe_api.log == []


def test_checkout_without_csrf_token_is_refused(client, catalog, user, stripe_api):
    assert client.post("/checkout", data={"price": "price_pro_monthly"}).status_code == 400
    assert stripe_api.log == []


def test_stripe_failure_creating_customer_remembers_nothing(client, catalog, user, token, stripe_api, owner_conn):
    answer_error(stripe_api, CUSTOMERS, 401, {"type": "invalid_request_error",
                                              "message": "Invalid API Key provided: sk_test_****p7dc"})
    response = subscribe(client, token)
    assert response.status_code == 503
    assert "Payments are not available right now." in response.get_data(as_text=True)
    assert owner_conn.execute("SELECT count(*) FROM billing_app.remembered_customers").fetchone()[0] == 0
    assert requests_to(stripe_api, CHECKOUT) == []


def test_checkout_for_customer_unknown_to_stripe_is_409(client, catalog, user, token, stripe_api):
    catalog.customer("cus_me", user)
    answer_error(stripe_api, CHECKOUT, 400, {**NO_SUCH_CUSTOMER, "message": "No such customer: 'cus_me'"})
    response = subscribe(client, token)
    assert response.status_code == 409
    assert "Your billing account could not be found. Please write to billing@example.com." in \
        response.get_data(as_text=True)
    assert sent_form(requests_to(stripe_api, CHECKOUT)[0])["customer"] == "cus_me"


def test_checkout_for_price_unknown_to_stripe_is_409(client, catalog, user, token, stripe_api):
    catalog.customer("cus_me", user)
    answer_error(stripe_api, CHECKOUT, 400, {"type": "invalid_request_error", "code": "resource_missing",
                                             "param": "line_items[0][price]",
                                             "message": "No such price: 'price_pro_monthly'"})
    response = subscribe(client, token)
    assert response.status_code == 409
    assert "This plan cannot be bought right now." in response.get_data(as_text=True)
    assert 'href="/pricing"' in response.get_data(as_text=True)  # the way on: another plan


def test_checkout_when_stripe_hangs_is_502(app_config, catalog, stripe_api):
    with hanging(stripe_api, CHECKOUT), customer_app(app_config, catalog, STRIPE_TIMEOUT="0.5",
                                                     STRIPE_MAX_NETWORK_RETRIES="0") as (_, client, token):
        response = subscribe(client, token)
    assert response.status_code == 502
    assert response.headers["Retry-After"] == "30"
    assert "Stripe did not answer in time. Please try again in a minute." in response.get_data(as_text=True)


def test_back_from_checkout_shows_freshness_notice(client, user):
    assert "Your new subscription can take a few seconds to appear here." in text_of(
        client.get("/account?from=checkout"))


@pytest.mark.parametrize("price", ["price\x00pro", "p" * 300])
def test_checkout_with_a_malformed_price_is_400(client, catalog, user, token, stripe_api, price):
    answer = client.post("/checkout", data={"csrf_token": token, "price": price})
    assert answer.status_code == 400
    assert requests_to(stripe_api, CUSTOMERS) == []

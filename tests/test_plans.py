"""Issue 14: what choosing a plan does, one rule everywhere (mirror.subscription_actions), and a
pricing page that shows every plan (plans/offer.py), on each mirror source.

The catalogue: Starter and Pro carry a sort key; Team is sold every 3 months only and Enterprise
yearly only (no key: after, by price per month); Extra seats is an add-on. Default prices are kept by
the engines; Sequin's mirror has none, so there each product shows the catalogue's most common
currency (USD)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.conftest import csrf_token_from
from tests.stripe_stand_in import PORTAL_URL, answer_portal_session, requests_to, sent_form
from tests.test_account import text_of
from tests.test_checkout import CHECKOUT, CHECKOUT_URL, CUSTOMERS, answer_checkout

MIRROR_SOURCES = True
SESSIONS = "/v1/billing_portal/sessions"
RENEWAL = datetime(2031, 3, 5, 12, 0)


@pytest.fixture
def catalog(mirror):
    mirror.product("prod_starter", "Starter", metadata={"billing_app_sort": "1"}, default_price="price_starter_m")
    mirror.product("prod_pro", "Pro", metadata={"billing_app_sort": "2"}, default_price="price_pro_m")
    mirror.product("prod_team", "Team", default_price="price_team_q")
    mirror.product("prod_enterprise", "Enterprise", default_price="price_ent_y")
    mirror.product("prod_seats", "Extra seats", metadata={"billing_app_kind": "addon"}, default_price="price_seat_eur")
    mirror.price("price_starter_m", "prod_starter", nickname=None, unit_amount=1000)
    mirror.price("price_starter_y", "prod_starter", nickname=None, unit_amount=10000, interval="year")
    mirror.price("price_starter_eur", "prod_starter", nickname=None, unit_amount=900, currency="eur")
    mirror.price("price_pro_m", "prod_pro", nickname=None, unit_amount=2900)
    mirror.price("price_pro_y", "prod_pro", nickname=None, unit_amount=29000, interval="year")
    mirror.price("price_pro_jpy", "prod_pro", nickname=None, unit_amount=3000, currency="jpy")
    mirror.price("price_team_q", "prod_team", nickname=None, unit_amount=7900, interval_count=3)
    mirror.price("price_ent_y", "prod_enterprise", nickname=None, unit_amount=200000, interval="year")
    mirror.price("price_seat_eur", "prod_seats", nickname=None, unit_amount=500, currency="eur")
    mirror.price("price_seat_usd", "prod_seats", nickname=None, unit_amount=600)
    mirror.price("price_seat_usd_y", "prod_seats", nickname=None, unit_amount=6000, interval="year")
    return mirror


def cards(response) -> list[str]:
    """Each product card's text, in page order."""
    html = response.get_data(as_text=True)
    return [" ".join(re.sub(r"<[^>]+>", " ", card).split())
            for card in re.findall(r'<section class="card plan".*?</section>', html, flags=re.S)]


def choose(client, token, price):
    return client.post("/checkout", data={"csrf_token": token, "price": price})


# --- the pricing page ---------------------------------------------------------

def test_every_product_shows_by_default_with_each_interval_it_is_sold_in(client, catalog, source):
    response = client.get("/pricing")
    seats = "€5.00 per month" if source != "sequin" else "$6.00 per month Sign up to subscribe $60.00 per year"
    assert cards(response) == [
        "Starter $10.00 per month Sign up to subscribe $100.00 per year Sign up to subscribe",
        "Pro $29.00 per month Sign up to subscribe $290.00 per year Sign up to subscribe",
        "Team $79.00 every 3 months Sign up to subscribe",            # $26.33 a month
        "Enterprise $2,000.00 per year Sign up to subscribe",         # $166.67 a month
        f"Extra seats {seats} Sign up to subscribe",
    ]
    text = text_of(response)
    assert "Plans & pricing All Monthly Every 3 months Yearly Default EUR JPY USD Plans Starter" in text
    assert "Add-ons Extra seats" in text


def test_choosing_an_interval_filters_but_never_hides_a_product(client, catalog):
    yearly = cards(client.get("/pricing?interval=year"))
    assert [card.split(" Sign")[0] for card in yearly[:4]] == [
        "Starter $100.00 per year", "Pro $290.00 per year", "Team $79.00 every 3 months", "Enterprise $2,000.00 per year"]


def test_choosing_a_currency_shows_it_where_a_product_has_it(client, catalog):
    euro = cards(client.get("/pricing?currency=eur"))
    assert euro[0] == "Starter €9.00 per month Sign up to subscribe"
    assert euro[1].startswith("Pro $29.00 per month")  # no euro price: its own currency
    assert euro[-1] == "Extra seats €5.00 per month Sign up to subscribe"
    assert cards(client.get("/pricing?currency=xyz")) == cards(client.get("/pricing"))  # unknown: the default


def test_a_signed_in_user_without_a_subscription_gets_subscribe_and_add_ons_wait(client, catalog, user):
    response = client.get("/pricing")
    page = response.get_data(as_text=True)
    forms = re.findall(r'<form method="post" action="/checkout">.*?</form>', page, flags=re.S)
    assert all(csrf_token_from(form) for form in forms)
    assert 'aria-label="Subscribe to Pro per year">Subscribe</button>' in page
    assert cards(response)[-1].endswith("Added to a plan once you subscribe.")


def test_a_subscriber_sees_their_currency_their_plan_and_change_plan(client, catalog, user):
    catalog.customer("cus_me", user)
    catalog.subscription("sub_me", "cus_me", items=[("price_pro_m", 1)], current_period_end=RENEWAL)
    response = client.get("/pricing")
    assert cards(response) == [
        "Starter $10.00 per month Change plan $100.00 per year Change plan",
        "Pro $29.00 per month Your current plan $290.00 per year Change plan",
        "Team $79.00 every 3 months Change plan",
        "Enterprise $2,000.00 per year Change plan",
        "Extra seats $6.00 per month Ask us to add it $60.00 per year Ask us to add it",
    ]
    page = response.get_data(as_text=True)
    # on the page's text: the CSRF token in the HTML is random and may hold "JPY"
    assert "JPY" not in text_of(response) and "€" not in text_of(response)
    assert 'aria-label="Currency"' not in page
    assert 'aria-label="Change plan to Pro per year">Change plan</button>' in page


def test_with_two_subscriptions_both_plans_are_current_and_neither_is_offered_again(client, catalog, user,
                                                                                    token, stripe_api):
    """Grace's case: the plan of the subscription a change would not touch is hers too, not a plan to change to."""
    catalog.customer("cus_me", user)
    catalog.subscription("sub_team", "cus_me", items=[("price_team_q", 1)], current_period_end=RENEWAL,
                         created=datetime(2030, 1, 1))
    catalog.subscription("sub_pro", "cus_me", items=[("price_pro_m", 1)], current_period_end=RENEWAL,
                         created=datetime(2030, 6, 1))
    catalog.subscription("sub_over", "cus_me", status="canceled", items=[("price_starter_m", 1)],
                         current_period_end=datetime(2020, 1, 1), ended_at=datetime(2020, 1, 1))
    assert cards(client.get("/pricing"))[:3] == [
        "Starter $10.00 per month Change plan $100.00 per year Change plan",  # ended: not hers any more
        "Pro $29.00 per month Your current plan $290.00 per year Change plan",
        "Team $79.00 every 3 months Your current plan",
    ]
    response = choose(client, token, "price_team_q")  # a forged choice: Pro changed to the plan Team has
    assert response.status_code == 409 and "You are already on this plan." in text_of(response)
    assert stripe_api.log == []


# --- choosing a plan -----------------------------------------------------------

def test_change_plan_opens_the_portal_confirmation_of_that_exact_price(client, catalog, user, token, stripe_api,
                                                                        source):
    catalog.customer("cus_me", user)
    catalog.subscription("sub_me", "cus_me", items=[("price_pro_m", 1)], current_period_end=RENEWAL)
    item = catalog.objects[("subscription", "sub_me")]["items"]["data"][0]["id"]
    answer_portal_session(stripe_api)
    response = choose(client, token, "price_pro_y")
    assert (response.status_code, response.headers["Location"]) == (303, PORTAL_URL)
    (session,) = requests_to(stripe_api, SESSIONS)
    assert sent_form(session) == {
        "customer": "cus_me",
        "return_url": "http://billing.test/account?from=portal",
        "flow_data[type]": "subscription_update_confirm",
        "flow_data[after_completion][type]": "redirect",
        "flow_data[after_completion][redirect][return_url]": "http://billing.test/account?from=portal",
        "flow_data[subscription_update_confirm][subscription]": "sub_me",
        "flow_data[subscription_update_confirm][items][0][id]": item,
        "flow_data[subscription_update_confirm][items][0][price]": "price_pro_y",
    }
    assert requests_to(stripe_api, CHECKOUT) == [] and requests_to(stripe_api, CUSTOMERS) == []


def test_a_subscription_of_several_items_changes_plan_on_request(client, catalog, user, token, stripe_api):
    """The portal cannot change a subscription with several items (Stripe refuses the flow): the page says
    so and offers to write; a forged choice is answered here, before Stripe."""
    catalog.customer("cus_me", user)
    catalog.subscription("sub_me", "cus_me", items=[("price_pro_m", 1), ("price_seat_usd", 3)],
                         current_period_end=RENEWAL)
    pricing = client.get("/pricing")
    assert "Your subscription has several parts, which the billing portal cannot change" in text_of(pricing)
    assert cards(pricing)[0] == "Starter $10.00 per month Ask us to change to it $100.00 per year Ask us to change to it"
    assert "Change plan" not in text_of(client.get("/account"))
    answer = choose(client, token, "price_starter_m")
    assert answer.status_code == 409
    assert ("This subscription has several parts, which the billing portal cannot change: write to "
            "billing@example.com") in text_of(answer)
    api = client.post("/api/customer_portal", json={"flow": "subscription_update", "subscription": "sub_me"},
                      headers={"X-CSRFToken": token})
    assert (api.status_code, api.get_json()["error"]["code"]) == (409, "plan_change_on_request")
    assert client.get("/api/billing/summary").get_json()["choosing_a_plan"] == {"kind": "ask",
                                                                                "subscription_id": "sub_me"}
    assert stripe_api.log == []


def test_an_add_on_is_not_a_plan(client, catalog, user, token, stripe_api):
    alone = choose(client, token, "price_seat_usd")  # no subscription: an add-on alone is not sold
    assert alone.status_code == 400 and "That is an add-on: choose a plan first" in text_of(alone)
    catalog.customer("cus_me", user)
    catalog.subscription("sub_me", "cus_me", items=[("price_pro_m", 1)], current_period_end=RENEWAL)
    swap = choose(client, token, "price_seat_usd")  # would replace the plan with seats
    assert swap.status_code == 409 and "Add-ons are added to your subscription on request" in text_of(swap)
    assert stripe_api.log == []


@pytest.mark.parametrize("price, status, code", [
    ("price_pro_jpy", 400, "currency_mismatch"),
    ("price_pro_m", 409, "already_on_this_plan"),
])
def test_a_change_stripe_would_refuse_is_answered_here(client, catalog, user, token, stripe_api, price, status, code):
    catalog.customer("cus_me", user)
    catalog.subscription("sub_me", "cus_me", items=[("price_pro_m", 1)], current_period_end=RENEWAL)
    response = client.post("/api/customer_portal", json={"flow": "subscription_update_confirm",
                                                        "subscription": "sub_me", "price": price},
                           headers={"X-CSRFToken": token})
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    assert choose(client, token, price).status_code == status
    assert stripe_api.log == []


def test_a_customer_whose_plan_ended_subscribes_again_through_checkout(client, catalog, user, token, stripe_api):
    catalog.customer("cus_me", user)
    catalog.subscription("sub_old", "cus_me", status="canceled", items=[("price_pro_m", 1)],
                         current_period_end=datetime(2020, 1, 1), ended_at=datetime(2020, 1, 1))
    catalog.subscription("sub_running", "cus_me", status="canceled", items=[("price_pro_m", 1)],
                         current_period_end=RENEWAL, canceled_at=datetime(2030, 1, 1))
    assert "Subscribe" in cards(client.get("/pricing"))[0]
    answer_checkout(stripe_api)
    response = choose(client, token, "price_pro_m")
    assert (response.status_code, response.headers["Location"]) == (303, CHECKOUT_URL)
    assert sent_form(requests_to(stripe_api, CHECKOUT)[0])["customer"] == "cus_me"
    assert requests_to(stripe_api, SESSIONS) == []


@pytest.mark.parametrize("state", [{"status": "past_due"}, {"status": "unpaid"}, {"status": "incomplete"},
                                   {"status": "paused"}, {"cancel_at_period_end": True}])
def test_a_subscription_that_needs_the_customer_first_blocks_a_second_one(client, catalog, user, token, stripe_api,
                                                                          state):
    catalog.customer("cus_me", user)
    catalog.subscription("sub_me", "cus_me", items=[("price_pro_m", 1)], current_period_end=RENEWAL, **state)
    pricing = client.get("/pricing")
    assert "Your current subscription needs you first" in text_of(pricing)
    assert "/checkout" not in pricing.get_data(as_text=True)
    response = choose(client, token, "price_pro_y")
    assert response.status_code == 409
    assert "Your current subscription needs you first" in text_of(response)
    own = choose(client, token, "price_pro_m")  # its own price too: what to do first, not "already on it"
    assert own.status_code == 409 and "Your current subscription needs you first" in text_of(own)
    assert 'href="/account"' in response.get_data(as_text=True)
    update = client.post("/api/customer_portal", json={"flow": "subscription_update", "subscription": "sub_me"},
                         headers={"X-CSRFToken": token})
    assert (update.status_code, update.get_json()["error"]["code"]) == (409, "plan_change_not_allowed")
    assert stripe_api.log == []
    summary = client.get("/api/billing/summary").get_json()
    assert summary["choosing_a_plan"] == {"kind": "settle", "subscription_id": "sub_me"}

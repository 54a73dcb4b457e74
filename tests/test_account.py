"""GET /account and GET /api/billing/summary on real rows in the mirror schema."""

import logging
import re
from datetime import datetime, timedelta

import pytest

from tests.conftest import SOURCES_THAT_DROP_DELETED_PRICES, csrf_token_from

MIRROR_SOURCES = True  # every test here runs on each mirror source

RENEWAL = datetime(2031, 3, 5, 12, 0)
LATER = datetime(2031, 6, 1, 9, 30)


def text_of(response) -> str:
    """The page's visible text on one line, tags removed, white space folded."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&amp;", "&")


@pytest.fixture
def catalog(mirror):
    mirror.product("prod_pro", "Pro")
    mirror.product("prod_seats", "Extra seats")
    mirror.price("price_pro_monthly", "prod_pro", nickname="Pro monthly", unit_amount=2900)
    mirror.price("price_pro_yearly", "prod_pro", nickname="Pro yearly", unit_amount=29000, interval="year")
    mirror.price("price_pro_quarterly", "prod_pro", nickname="Pro quarterly", unit_amount=7900,
                 interval_count=3)
    mirror.price("price_pro_jpy", "prod_pro", nickname="Pro Japan", currency="jpy", unit_amount=3000)
    mirror.price("price_seat", "prod_seats", nickname="Per seat", currency="eur", unit_amount=500)
    mirror.price("price_weekly", "prod_pro", nickname="Pro weekly", unit_amount=700, interval="week")
    return mirror


@pytest.fixture
def customer(catalog, user):
    catalog.customer("cus_me", user, email="me@example.com")
    return "cus_me"


def account_text(client):
    response = client.get("/account")
    assert response.status_code == 200
    return text_of(response)


def test_not_signed_in_is_sent_to_login_and_back(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account"


def test_summary_api_not_signed_in_is_401_json(client):
    response = client.get("/api/billing/summary")
    assert response.status_code == 401
    assert response.get_json() == {"error": {"code": "unauthorized",
                                             "message": "Sign in first: this needs a signed-in user."}}


def test_user_without_customer_sees_free_plan_with_link_to_pricing(client, user):
    response = client.get("/account")
    assert "Free plan You have no paid subscription right now. See plans and pricing" in text_of(response)
    assert 'href="/pricing"' in response.get_data(as_text=True)
    assert "Manage subscription" not in text_of(response)
    assert client.get("/api/billing/summary").get_json()["plan"] == "free"


def test_active_monthly_subscription(client, customer, mirror):
    mirror.subscription("sub_1", customer, current_period_end=RENEWAL)
    text = account_text(client)
    assert "Active Renews on March 5, 2031 Pro · Pro monthly $29.00 per month" in text
    assert "Update payment method Change plan Cancel subscription" in text


@pytest.mark.parametrize("price, shown", [
    ("price_pro_yearly", "Pro · Pro yearly $290.00 per year"),
    ("price_pro_quarterly", "Pro · Pro quarterly $79.00 every 3 months"),
    ("price_weekly", "Pro · Pro weekly $7.00 per week"),
    ("price_pro_jpy", "Pro · Pro Japan ¥3,000 per month"),
])
def test_interval_and_currency_in_words(client, customer, mirror, price, shown):
    mirror.subscription("sub_1", customer, items=[(price, 1)], current_period_end=RENEWAL)
    assert shown in account_text(client)


def test_quantity_above_one_shows_unit_price_and_total(client, customer, mirror):
    mirror.subscription("sub_1", customer, items=[("price_pro_monthly", 1), ("price_seat", 3)],
                        current_period_end=RENEWAL)
    text = account_text(client)
    assert "Pro · Pro monthly $29.00 per month Extra seats · Per seat €15.00 per month 3 × €5.00" in text


def test_trial_says_when_it_ends_and_what_it_costs_after(client, customer, mirror):
    mirror.subscription("sub_1", customer, status="trialing", trial_end=datetime(2031, 1, 9),
                        items=[("price_pro_monthly", 1), ("price_pro_quarterly", 2)])
    mirror.subscription("sub_2", customer, status="trialing", trial_end=datetime(2031, 1, 9),
                        items=[("price_pro_monthly", 2)], created=datetime(2030, 1, 1))
    text = account_text(client)
    assert "Free trial Trial ends on January 9, 2031 Pro" in text  # items of two intervals: no one total
    assert "Free trial Trial ends on January 9, 2031, then $58.00 per month" in text


def test_subscription_without_items_renders(client, customer, mirror):
    # a half-written subscription (no items yet): no plan lines, no period to renew on
    mirror.subscription("sub_1", customer, items=[])
    text = account_text(client)
    assert "Active Renewal date not known yet" in text
    assert client.get("/api/billing/summary").get_json()["subscriptions"][0]["items"] == []


def test_active_subscription_after_a_trial_has_no_trial_line(client, customer, mirror):
    # trial_end stays on the subscription once the trial is over (0.48 keeps it as jsonb)
    mirror.subscription("sub_1", customer, trial_start=datetime(2030, 1, 1), trial_end=datetime(2030, 1, 15),
                        current_period_end=RENEWAL)
    text = account_text(client)
    assert "Active Renews on March 5, 2031" in text and "Trial" not in text


def test_set_to_end_shows_the_end_date_and_resume_instead_of_cancel(client, customer, mirror):
    mirror.subscription("sub_1", customer, cancel_at_period_end=True, current_period_end=RENEWAL)
    response = client.get("/account")
    text = text_of(response)
    assert "Active Ends on March 5, 2031 Pro · Pro monthly" in text
    assert "Resume subscription Update payment method" in text
    assert "Cancel subscription" not in text and "Change plan" not in text
    html = response.get_data(as_text=True)
    assert 'aria-label="Resume Pro">Resume subscription</button>' in html  # the portal's home: it offers renewal
    actions = client.get("/api/billing/summary").get_json()["subscriptions"][0]["actions"]
    assert actions == {"change_plan": False, "cancel": False, "resume": True, "pay": False,
                       "update_payment_method": True, "subscribe_again": False}


def test_cancel_at_date_shows_that_date(client, customer, mirror):
    mirror.subscription("sub_1", customer, cancel_at=LATER, current_period_end=RENEWAL)
    assert "Active Ends on June 1, 2031" in account_text(client)


@pytest.mark.parametrize("status, label", [("past_due", "Past due"), ("unpaid", "Unpaid")])
def test_failed_payment_says_what_is_owed_with_pay_now(client, customer, mirror, status, label):
    mirror.invoice("in_owed", customer, subscription_id="sub_1", status="open", amount=2900,
                   hosted_invoice_url="https://invoice.stripe.com/i/in_owed")
    mirror.subscription("sub_1", customer, status=status, current_period_end=RENEWAL, latest_invoice="in_owed")
    response = client.get("/account")
    assert f"{label} Payment failed - $29.00 is due Pro · Pro monthly" in text_of(response)
    assert ('<a class="button" href="https://invoice.stripe.com/i/in_owed" rel="noopener" '
            'aria-label="Pay now for Pro">Pay now</a>') in response.get_data(as_text=True)
    assert "Change plan" not in text_of(response)  # settle the invoice first
    sub = client.get("/api/billing/summary").get_json()["subscriptions"][0]
    assert (sub["pay_url"], sub["amount_owed"], sub["actions"]["pay"]) == (
        "https://invoice.stripe.com/i/in_owed", "$29.00", True)


@pytest.mark.parametrize("status, label", [("past_due", "Past due"), ("unpaid", "Unpaid")])
def test_failed_payment_without_an_open_invoice_asks_for_a_new_card(client, customer, mirror, status, label):
    mirror.invoice("in_paid", customer, subscription_id="sub_1", status="paid")
    mirror.subscription("sub_1", customer, status=status, current_period_end=RENEWAL, latest_invoice="in_paid")
    text = account_text(client)
    assert f"{label} Payment failed - update your card" in text and "Pay now" not in text


def test_incomplete_offers_to_finish_the_first_payment(client, customer, mirror):
    mirror.invoice("in_first", customer, subscription_id="sub_1", status="open",
                   hosted_invoice_url="https://invoice.stripe.com/i/in_first")
    mirror.subscription("sub_1", customer, status="incomplete", latest_invoice="in_first")
    response = client.get("/account")
    assert "Incomplete Waiting for the first payment Pro · Pro monthly $29.00 per month Finish payment" in \
        text_of(response)
    assert 'href="https://invoice.stripe.com/i/in_first"' in response.get_data(as_text=True)


def test_incomplete_and_paused(client, customer, mirror):
    mirror.subscription("sub_1", customer, status="incomplete", created=datetime(2030, 1, 2))
    mirror.subscription("sub_2", customer, status="paused", created=datetime(2030, 1, 1),
                        pause_collection_resumes_at=datetime(2031, 2, 3))
    text = account_text(client)
    assert "Incomplete Waiting for the first payment" in text
    assert "Paused Paused - resumes on February 3, 2031" in text


def test_canceled_subscription_shows_only_while_its_period_runs(client, customer, mirror):
    mirror.subscription("sub_running", customer, status="canceled", current_period_end=RENEWAL,
                        canceled_at=datetime(2030, 1, 1))
    mirror.subscription("sub_over", customer, status="canceled", items=[("price_pro_yearly", 1)],
                        current_period_end=datetime(2020, 1, 1), ended_at=datetime(2020, 1, 1))
    mirror.subscription("sub_expired", customer, status="incomplete_expired", items=[("price_pro_jpy", 1)])
    text = account_text(client)
    assert "Canceled Canceled - access until March 5, 2031 Pro · Pro monthly" in text
    assert "Pro yearly" not in text and "Pro Japan" not in text


def test_a_plan_that_ended_says_so_with_subscribe_again(client, customer, mirror):
    mirror.subscription("sub_older", customer, status="canceled", current_period_end=datetime(2019, 1, 1),
                        ended_at=datetime(2019, 1, 1), items=[("price_seat", 1)])
    mirror.subscription("sub_over", customer, status="canceled", current_period_end=datetime(2020, 1, 1),
                        ended_at=datetime(2020, 2, 3))
    mirror.subscription("sub_expired", customer, status="incomplete_expired", created=datetime(2024, 1, 1))
    response = client.get("/account")
    text = text_of(response)
    assert "Your plan Manage subscription Your Pro plan ended on February 3, 2020 You are on the free plan now." \
        in text  # a customer can still see invoices in the portal
    assert '<a class="button" href="/pricing">Subscribe again</a>' in response.get_data(as_text=True)
    summary = client.get("/api/billing/summary").get_json()
    assert summary["ended"] == {"subscription_id": "sub_over", "product": "Pro", "ended_on": "February 3, 2020",
                                "line": "Your Pro plan ended on February 3, 2020"}
    assert summary["choosing_a_plan"] == {"kind": "subscribe", "subscription_id": None}


def test_a_canceled_subscription_still_running_offers_subscribe_again(client, customer, mirror):
    mirror.subscription("sub_1", customer, status="canceled", current_period_end=RENEWAL,
                        canceled_at=datetime(2030, 1, 1))
    response = client.get("/account")
    assert "Canceled Canceled - access until March 5, 2031 Pro · Pro monthly $29.00 per month Subscribe again" in \
        text_of(response)
    assert "Change plan" not in text_of(response) and "Cancel subscription" not in text_of(response)
    assert client.get("/api/billing/summary").get_json()["choosing_a_plan"]["kind"] == "subscribe"


def test_two_subscriptions_newest_first(client, customer, mirror):
    mirror.subscription("sub_old", customer, items=[("price_pro_monthly", 1)], created=datetime(2030, 1, 1),
                        current_period_end=RENEWAL)
    mirror.subscription("sub_new", customer, items=[("price_pro_jpy", 1)], created=datetime(2030, 6, 1),
                        current_period_end=LATER)
    text = account_text(client)
    assert text.index("Renews on June 1, 2031 Pro · Pro Japan") < text.index("Renews on March 5, 2031 Pro · Pro monthly")
    subs = client.get("/api/billing/summary").get_json()["subscriptions"]
    assert [s["id"] for s in subs] == ["sub_new", "sub_old"]


def test_period_end_comes_from_the_items(client, customer, mirror):
    # API 2025-03-31 and later: the subscription has no period, its items do
    mirror.subscription("sub_1", customer, current_period_end=RENEWAL)
    assert "Active Renews on March 5, 2031" in account_text(client)


def test_subscription_period_of_older_api_versions_is_read_too(client, customer, mirror):
    # before API 2025-03-31 the period was on the subscription itself (no items here to take it from)
    mirror.subscription("sub_1", customer, items=[], current_period_end=LATER, period_on_subscription=True)
    assert "Active Renews on June 1, 2031" in account_text(client)


def test_card_from_customer_default(client, customer, mirror):
    mirror.payment_method("pm_1", customer, brand="visa", last4="4242", exp_month=8, exp_year=2031)
    mirror.update("customer", customer, default_payment_method="pm_1")
    text = account_text(client)
    assert "Payment method Visa •••• 4242 expires 08/2031" in text
    assert "Expired" not in text


def test_card_from_subscription_default_when_customer_has_none(client, customer, mirror):
    mirror.payment_method("pm_sub", customer, brand="amex", last4="0005", exp_month=1, exp_year=2032)
    mirror.subscription("sub_1", customer, default_payment_method_id="pm_sub")
    assert "Payment method Amex •••• 0005 expires 01/2032" in account_text(client)


def test_expired_card_is_flagged(client, customer, mirror):
    mirror.payment_method("pm_old", customer, brand="mastercard", last4="4444", exp_month=1, exp_year=2020)
    mirror.update("customer", customer, default_payment_method="pm_old")
    text = account_text(client)
    assert ("Mastercard •••• 4444 expires 01/2020 Expired This card has expired. "
            "Update it to keep your subscription running.") in text


def test_no_card(client, customer):
    assert "Payment method No card on file." in account_text(client)


def test_last_ten_invoices_newest_first_with_links(client, customer, mirror):
    for n in range(12):
        mirror.invoice(f"in_{n:02d}", customer, amount=2900 + n, created=datetime(2030, 1, 1) + timedelta(days=n))
    mirror.invoice("in_deleted", customer, status="draft", created=datetime(2031, 1, 1), deleted=True)
    response = client.get("/account")
    text = text_of(response)
    html = response.get_data(as_text=True)
    assert "NUM-in_11 January 12, 2030 $29.11 Paid PDF NUM-in_10 January 11, 2030 $29.10 Paid" in text
    assert "NUM-in_02" in text and "NUM-in_01" not in text and "NUM-in_deleted" not in text
    assert 'href="https://invoice.stripe.com/i/in_11"' in html
    assert 'href="https://pay.stripe.com/invoice/in_11/pdf"' in html
    assert len(client.get("/api/billing/summary").get_json()["invoices"]) == 10


def test_open_invoice_is_shown_as_due(client, customer, mirror):
    mirror.invoice("in_1", customer, status="open", amount=1000, created=datetime(2030, 5, 1))
    assert "NUM-in_1 May 1, 2030 $10.00 Due" in account_text(client)


def test_another_users_customer_never_shows(client, auth, catalog, owner_conn):
    catalog.customer("cus_first", 999, email="first@example.com")
    catalog.subscription("sub_first", "cus_first", current_period_end=RENEWAL)
    catalog.invoice("in_first", "cus_first")
    auth.signup("second@example.com", "correct horse battery")
    text = account_text(client)
    assert "Free plan" in text
    assert "Pro monthly" not in text and "NUM-in_first" not in text


def test_first_user_sees_own_data_and_second_user_never_does(client, auth, catalog, owner_conn):
    auth.signup("first@example.com", "correct horse battery")
    first_id = owner_conn.execute("SELECT id FROM billing_app.users WHERE email = 'first@example.com'").fetchone()[0]
    catalog.customer("cus_first", first_id, email="first@example.com")
    catalog.subscription("sub_first", "cus_first", current_period_end=RENEWAL)
    assert "Pro monthly" in account_text(client)
    auth.logout()
    auth.signup("second@example.com", "correct horse battery")
    assert "Pro monthly" not in account_text(client)
    assert client.get("/api/billing/summary").get_json()["customer"] is None


def test_customer_with_same_email_but_no_user_id_is_not_linked(client, user, catalog):
    catalog.customer("cus_email_only", None, email="me@example.com")
    catalog.subscription("sub_1", "cus_email_only")
    assert "Free plan" in account_text(client)


def test_request_parameters_cannot_choose_the_customer(client, user, catalog):
    catalog.customer("cus_other", 999)
    catalog.subscription("sub_other", "cus_other")
    response = client.get("/account?customer=cus_other&user_id=999")
    assert "Free plan" in text_of(response)


def test_deleted_customer_is_ignored(client, user, catalog):
    catalog.customer("cus_deleted", user, deleted=True)
    catalog.subscription("sub_1", "cus_deleted")
    assert "Free plan" in account_text(client)


def test_duplicate_customers_pick_the_live_one_then_the_newest_and_warn(client, user, catalog, caplog):
    catalog.customer("cus_newer_empty", user, created=datetime(2030, 6, 1))
    catalog.customer("cus_live", user, created=datetime(2030, 1, 1))
    catalog.customer("cus_older", user, created=datetime(2029, 1, 1))
    catalog.subscription("sub_live", "cus_live", current_period_end=RENEWAL)
    with caplog.at_level(logging.WARNING):
        summary = client.get("/api/billing/summary").get_json()
    assert summary["customer"] == "cus_live"
    assert (f"user {user} is linked to 3 Stripe customers (cus_live, cus_newer_empty, cus_older); "
            "using cus_live") in caplog.text


def test_duplicate_customers_without_live_subscription_pick_the_newest(client, user, catalog):
    catalog.customer("cus_old", user, created=datetime(2029, 1, 1))
    catalog.customer("cus_new", user, created=datetime(2030, 1, 1))
    assert client.get("/api/billing/summary").get_json()["customer"] == "cus_new"


def test_deleted_price_and_product_still_render(client, customer, catalog, source):
    catalog.subscription("sub_1", customer, current_period_end=RENEWAL)
    catalog.update("price", "price_pro_monthly", active=False)
    catalog.delete("price", "price_pro_monthly")
    catalog.delete("product", "prod_pro")
    text = account_text(client)
    if source in SOURCES_THAT_DROP_DELETED_PRICES:  # the row is gone: rendered as an item whose price is missing
        assert "Active Renews on March 5, 2031 Unknown plan — The details of this plan are not available right now." in text
    else:
        assert "Pro · Pro monthly $29.00 per month This plan is no longer offered." in text


def test_item_with_missing_price_renders(client, customer, catalog):
    # a sync that wrote the item before its price
    catalog.subscription("sub_1", customer, items=[("price_not_synced_yet", 2)], current_period_end=RENEWAL)
    text = account_text(client)
    assert "Active Renews on March 5, 2031 Unknown plan — 2 × — The details of this plan are not available right now." in text


def test_the_signed_in_user_and_the_page_are_one_statement(client, customer, mirror, statements):
    """Built-in accounts: the session's check (the user's row and session version) and the page's
    data, customer to invoices, go to the database as one statement (issue 16)."""
    mirror.subscription("sub_1", customer, current_period_end=RENEWAL)
    mirror.invoice("in_1", customer, subscription_id="sub_1")
    statements.clear()
    response = client.get("/account")
    assert response.status_code == 200 and "sub_1" in response.get_data(as_text=True)
    assert len(statements) == 1, statements
    assert "billing_app.users" in statements[0] and "billing_mirror.invoices" in statements[0]


def test_links_follow_the_script_root_the_app_is_served_under(client, customer):
    """The layout's links are worked out once per script root: an app reached both directly and
    through a proxy's prefix links each page within the way it was reached."""
    direct = client.get("/account").get_data(as_text=True)
    prefixed = client.get("/account", base_url="http://localhost/shop").get_data(as_text=True)
    assert 'href="/pricing"' in direct and 'href="/shop/pricing"' not in direct
    assert 'href="/shop/pricing"' in prefixed and 'action="/shop/portal"' in prefixed
    assert re.search(r'<link rel="stylesheet" href="/shop/[^"]+style\.css"', prefixed)


def test_database_outage_gives_503_page(make_app, user, client):
    with client.session_transaction() as session:
        cookie_session = dict(session)
    down = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/x", DATABASE_POOL_TIMEOUT="1")
    down_client = down.test_client()
    with down_client.session_transaction() as session:
        session.update(cookie_session)
    response = down_client.get("/account")
    assert response.status_code == 503
    assert "Billing is temporarily unavailable" in text_of(response)
    api = down_client.get("/api/billing/summary")
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "database_unavailable"


def test_page_is_not_cached(client, user):
    assert client.get("/account").headers["Cache-Control"] == "no-store"
    assert client.get("/api/billing/summary").headers["Cache-Control"] == "no-store"


def test_back_from_portal_shows_freshness_notice_and_polls(client, customer, mirror):
    mirror.subscription("sub_1", customer, current_period_end=RENEWAL)
    plain = client.get("/account").get_data(as_text=True)
    assert "can take a few seconds" not in plain and "freshness.js" not in plain
    response = client.get("/account?from=portal")
    html = response.get_data(as_text=True)
    assert "Changes you made in the billing portal can take a few seconds to appear here." in text_of(response)
    fingerprint = client.get("/api/billing/summary").get_json()["fingerprint"]
    assert f'data-fingerprint="{fingerprint}"' in html
    assert 'data-summary-url="/api/billing/summary"' in html
    assert '<script src="/static/billing/freshness.js"></script>' in html  # no inline script (CSP)


def test_summary_fingerprint_changes_when_the_mirror_changes(client, customer, mirror):
    mirror.subscription("sub_1", customer, current_period_end=RENEWAL)
    before = client.get("/api/billing/summary").get_json()
    assert client.get("/api/billing/summary").get_json()["fingerprint"] == before["fingerprint"]
    mirror.update("subscription", "sub_1", cancel_at_period_end=True)
    after = client.get("/api/billing/summary").get_json()
    assert after["fingerprint"] != before["fingerprint"]
    assert after["subscriptions"][0]["date_line"] == "Ends on March 5, 2031"


def test_summary_api_shape(client, customer, mirror):
    mirror.subscription("sub_1", customer, items=[("price_seat", 3)], current_period_end=RENEWAL)
    body = client.get("/api/billing/summary").get_json()
    assert body["customer"] == "cus_me" and body["plan"] == "subscribed"
    sub = body["subscriptions"][0]
    assert {k: sub[k] for k in ("id", "status", "status_label", "date_line", "period_end")} == {
        "id": "sub_1", "status": "active", "status_label": "Active", "date_line": "Renews on March 5, 2031",
        "period_end": "2031-03-05T12:00:00"}
    assert sub["items"] == [{"product": "Extra seats", "nickname": "Per seat", "price_id": "price_seat",
                             "quantity": 3, "unit_amount": "€5.00", "amount": "€15.00",
                             "interval": "per month", "note": None}]


def test_buttons_are_post_forms_with_csrf_tokens(client, customer, mirror):
    mirror.subscription("sub_1", customer, current_period_end=RENEWAL)
    html = client.get("/account").get_data(as_text=True)
    forms = re.findall(r'<form method="post" action="/portal".*?</form>', html, flags=re.S)
    assert len(forms) == 4
    for form in forms:
        assert csrf_token_from(form)
    flows = [re.search(r'name="flow" value="([^"]+)"', f) for f in forms]
    assert [m.group(1) if m else None for m in flows] == [
        None, "payment_method_update", "subscription_update", "subscription_cancel"]
    assert all('name="subscription" value="sub_1"' in f for f in forms[1:])


@pytest.mark.parametrize("status", ["incomplete", "incomplete_expired", "trialing", "active", "past_due",
                                    "canceled", "unpaid", "paused"])
@pytest.mark.parametrize("set_to_end", [False, True])
def test_a_subscription_never_offers_both_resume_and_subscribe_again(status, set_to_end):
    """The page draws a subscription's links (pay, subscribe again) before its portal buttons (resume,
    payment method, plan, cancel): one order for every state, because these two never show together."""
    from billing_app.mirror.subscription_actions import subscription_actions
    actions = subscription_actions({"status": status, "cancel_at_period_end": set_to_end, "cancel_at": None,
                                    "item_count": 1, "pay_url": "https://invoice.stripe.test/pay"})
    assert not (actions.resume and actions.subscribe_again)


def test_terms_and_privacy_name_the_company(make_app):
    client = make_app(COMPANY_NAME="Acme Widgets Ltd", CONTACT_EMAIL="help@acme.test").test_client()
    for path, heading in (("/terms", "Terms of service"), ("/privacy", "Privacy policy")):
        response = client.get(path)
        assert response.status_code == 200
        text = text_of(response)
        assert heading in text and "Acme Widgets Ltd" in text
        assert 'href="mailto:help@acme.test"' in response.get_data(as_text=True)

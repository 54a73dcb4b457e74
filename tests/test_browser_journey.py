"""Issue 14's walk in a real Chromium: sign up, confirm the address from the mail, subscribe through
Checkout, change plan in the portal, pay a failed invoice on its hosted page.

Stripe's hosted pages are stand-ins served by the Stripe stand-in (each with one button that goes
where Stripe would send the customer); between steps the test writes what the sync service would
mirror.  Mail goes through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from urllib.parse import parse_qs

import pytest
from werkzeug import Response

from billing_app import create_app
from tests.conftest import make_config
from tests.stripe_stand_in import requests_to, sent_form
from tests.test_accounts_mail import mailbox  # noqa: F401 the SMTP server fixture
from tests.test_browser import browser, send_account_form, serving  # noqa: F401 the Chromium fixture

RENEWAL = datetime(2031, 3, 5, 12, 0)


def stand_in_page(title: str, button: str, target: str) -> Response:
    return Response(f'<!doctype html><title>{title}</title><h1>{title}</h1>'
                    f'<a id="go" href="{escape(target)}">{button}</a>', content_type="text/html")


@pytest.fixture
def hosted_pages(stripe_api):
    """Checkout, the portal and an invoice page on the stand-in; each session remembers where it returns."""
    returns: dict[str, str] = {}

    def create(kind: str, field: str):
        def answer(request):
            form = parse_qs(request.get_data(as_text=True))
            key = f"{kind}_{len(returns) + 1}"
            returns[key] = form[field][0]
            body = {"id": key, "object": kind, "url": stripe_api.url_for(f"/hosted/{key}")}
            return Response(json.dumps(body), content_type="application/json")
        return answer

    def page(request):
        key = request.path.rsplit("/", 1)[1]
        return stand_in_page("Stripe page", "Done", returns[key])

    stripe_api.expect_request("/v1/customers", method="POST").respond_with_json(
        {"id": "cus_walk", "object": "customer"})
    stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_handler(
        create("checkout.session", "success_url"))
    stripe_api.expect_request("/v1/billing_portal/sessions", method="POST").respond_with_handler(
        create("billing_portal.session", "return_url"))
    for n in range(1, 6):
        for kind in ("checkout.session", "billing_portal.session"):
            stripe_api.expect_request(f"/hosted/{kind}_{n}", method="GET").respond_with_handler(page)
    return returns


@pytest.fixture
def live_app(database_url, stripe_api, mailbox):  # noqa: F811
    stripe_base = stripe_api.url_for("").rstrip("/")
    with serving(lambda site: create_app(make_config(
            database_url, stripe_base, SITE_URL=site, MAIL_URL=f"smtp://127.0.0.1:{mailbox.port}"))) as site_url:
        yield site_url


def test_sign_up_confirm_subscribe_change_plan_and_pay_a_failed_invoice(browser, live_app, stripe_api,  # noqa: F811
                                                                         hosted_pages, mailbox, mirror, owner_conn):
    mirror.product("prod_pro", "Pro", default_price="price_pro_m")
    mirror.price("price_pro_m", "prod_pro", nickname=None, unit_amount=2900)
    mirror.price("price_pro_y", "prod_pro", nickname=None, unit_amount=29000, interval="year")
    page = browser.new_page()

    # sign up, and confirm the address from the mail
    page.goto(f"{live_app}/signup")
    send_account_form(page, "walker@example.com")
    page.wait_for_url(f"{live_app}/account")
    assert "We sent a link to walker@example.com" in page.inner_text("main")
    page.goto(live_app + mailbox.link_to("walker@example.com"))
    page.click("main button:has-text('Confirm')")
    page.wait_for_url(f"{live_app}/settings")
    assert "Your email address is confirmed." in page.inner_text("main")
    user_id = owner_conn.execute("SELECT id FROM billing_app.users").fetchone()[0]

    # subscribe through Checkout; the sync service mirrors the customer and the subscription
    page.goto(f"{live_app}/pricing")
    page.click("[aria-label='Subscribe to Pro per month']")
    page.wait_for_url(stripe_api.url_for("/hosted/checkout.session_1"))
    assert sent_form(requests_to(stripe_api, "/v1/customers")[0])["metadata[user_id]"] == str(user_id)
    assert sent_form(requests_to(stripe_api, "/v1/checkout/sessions")[0])["line_items[0][price]"] == "price_pro_m"
    page.click("#go")
    page.wait_for_url(f"{live_app}/account?from=checkout")
    mirror.customer("cus_walk", user_id, email="walker@example.com")
    mirror.subscription("sub_walk", "cus_walk", items=[("price_pro_m", 1)], current_period_end=RENEWAL)
    page.wait_for_selector("text=Renews on March 5, 2031", timeout=10_000)

    # change plan: the portal confirms the exact price
    page.goto(f"{live_app}/pricing")
    page.click("[aria-label='Change plan to Pro per year']")
    page.wait_for_url(stripe_api.url_for("/hosted/billing_portal.session_2"))
    change = sent_form(requests_to(stripe_api, "/v1/billing_portal/sessions")[0])
    assert change["flow_data[type]"] == "subscription_update_confirm"
    assert change["flow_data[subscription_update_confirm][items][0][price]"] == "price_pro_y"
    page.click("#go")
    page.wait_for_url(f"{live_app}/account?from=portal")
    mirror.subscription("sub_walk", "cus_walk", items=[("price_pro_y", 1)], current_period_end=RENEWAL)
    page.wait_for_selector("text=$290.00 per year", timeout=10_000)

    # a renewal fails: Pay now opens the open invoice's hosted page
    pay_url = stripe_api.url_for("/invoice/in_walk")
    stripe_api.expect_request("/invoice/in_walk", method="GET").respond_with_response(
        stand_in_page("Invoice", "Pay", f"{live_app}/account"))
    mirror.invoice("in_walk", "cus_walk", subscription_id="sub_walk", status="open", amount=29000,
                   hosted_invoice_url=pay_url)
    mirror.subscription("sub_walk", "cus_walk", status="past_due", items=[("price_pro_y", 1)],
                        current_period_end=RENEWAL, latest_invoice="in_walk")
    page.goto(f"{live_app}/account")
    assert "Payment failed - $290.00 is due" in page.inner_text("main")
    page.click("[aria-label='Pay now for Pro']")
    page.wait_for_url(pay_url)
    page.click("#go")
    page.wait_for_url(f"{live_app}/account")
    mirror.invoice("in_walk", "cus_walk", subscription_id="sub_walk", status="paid", amount=29000,
                   hosted_invoice_url=pay_url)
    mirror.subscription("sub_walk", "cus_walk", items=[("price_pro_y", 1)], current_period_end=RENEWAL,
                        latest_invoice="in_walk")
    page.reload()
    assert "Renews on March 5, 2031" in page.inner_text("main") and "Pay now" not in page.inner_text("main")

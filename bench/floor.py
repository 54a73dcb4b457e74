"""The stack's floor: what billing_app's libraries alone cost for a signed-in account page.

Served by the same gunicorn settings as the app and driven with the same
cookies, it does what any such page does, with the libraries billing_app is
built on: Flask opens the signed session cookie, Flask-Login loads the user,
one psycopg statement from a pool reads the user's row and the page's data
together (billing_app's own statement, from its read layer), Flask-WTF signs
the page's CSRF token, Jinja renders a page with a layout showing the same
rows, and the response gets the app's security headers.  It puts nothing in
words (dates, money, statuses and next steps are shown as the mirror holds
them) and runs none of billing_app's request handling.  The bench reports its
CPU per request and throughput beside hello's and GET /account's: what the
page costs above this floor is billing_app's own work.
"""

from __future__ import annotations

import os

from flask import Flask, render_template
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import generate_csrf
from jinja2 import DictLoader
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from billing_app.auth.users import user_with_row
from billing_app.mirror import account_page

app = Flask(__name__)
https = os.environ.get("SITE_URL", "").startswith("https://")
app.config.update(SECRET_KEY=os.environ["SECRET_KEY"], SESSION_COOKIE_NAME="__Host-session" if https else "session",
                  WTF_CSRF_TIME_LIMIT=None)
login_manager = LoginManager(app)
pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=2, max_size=10, open=False,
                      kwargs={"autocommit": True, "row_factory": dict_row})


class User(UserMixin):
    def __init__(self, user, page: dict | None) -> None:
        self.id, self.email, self.page = user.get_id(), user.email, page or {}


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    with pool.connection() as conn:
        user, page = user_with_row(conn, session_id, account_page)
    return User(user, page) if user else None


LAYOUT = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="csrf-token" content="{{ token }}">
  <title>{% block title %}{% endblock %} · {{ company }}</title>
  <link rel="stylesheet" href="/static/billing/billing.css">
  <link rel="icon" href="/static/billing/icon.svg" type="image/svg+xml">
</head>
<body>
  <header class="topbar">
    <a class="brand" href="/">{{ company }}</a>
    <nav>
      <a href="/account">Account</a>
      <a href="/settings" class="who">{{ user.email }}</a>
      <form method="post" action="/logout" class="inline">
        <input type="hidden" name="csrf_token" value="{{ token }}">
        <button type="submit" class="link">Sign out</button>
      </form>
    </nav>
  </header>
  <main>
    {% for category, message in get_flashed_messages(with_categories=true) %}
      <p class="flash {{ category }}" role="status">{{ message }}</p>
    {% endfor %}
    {% block content %}{% endblock %}
  </main>
  <footer class="footer">
    <span>&copy; {{ company }}</span> · <a href="/pricing">Pricing</a> · <a href="/terms">Terms</a>
    · <a href="/privacy">Privacy</a>
  </footer>
</body>
</html>"""

PAGE = """{% extends "layout.html" %}
{% block title %}Account &amp; billing{% endblock %}
{% block content %}
<h1>Account &amp; billing</h1>
<section class="card" aria-labelledby="plan-heading">
  <div class="card-head">
    <h2 id="plan-heading">Your plan</h2>
    <form method="post" action="/api/customer_portal" class="inline">
      <input type="hidden" name="csrf_token" value="{{ token }}">
      <button type="submit" class="">Manage subscription</button>
    </form>
  </div>
  {% for item in page["items"] or [] %}
    <article class="subscription" id="{{ item["subscription_id"] }}">
      <header>
        <span class="badge">{{ item["status"] }}</span>
        <span class="date-line">Renews {{ item["period_end"] }}</span>
      </header>
      <ul class="items">
        <li>
          <strong>{{ item["product_name"] }}</strong> · {{ item["nickname"] }}
          <span class="price">{{ item["unit_amount"] }} {{ item["currency"] }} {{ item["recurring_interval"] }}</span>
          <span class="muted">{{ item["quantity"] }}</span>
        </li>
      </ul>
      <div class="actions">
        {% for flow, label in (("subscription_update", "Change plan"), ("subscription_cancel", "Cancel")) %}
          <form method="post" action="/api/customer_portal" class="inline">
            <input type="hidden" name="csrf_token" value="{{ token }}">
            <input type="hidden" name="flow" value="{{ flow }}">
            <input type="hidden" name="subscription" value="{{ item["subscription_id"] }}">
            <button type="submit" class="secondary" aria-label="{{ label }} {{ item["product_name"] }}">{{ label }}</button>
          </form>
        {% endfor %}
      </div>
    </article>
  {% endfor %}
</section>
<section class="card" aria-labelledby="card-heading">
  <h2 id="card-heading">Payment method</h2>
  {% set customer = page["customer"] or {} %}
  <p class="card-line">{{ customer["card_brand"] }} ending {{ customer["card_last4"] }}
    <span class="muted">expires {{ customer["card_exp_month"] }}/{{ customer["card_exp_year"] }}</span></p>
</section>
<section class="card" aria-labelledby="invoices-heading">
  <h2 id="invoices-heading">Invoices</h2>
  <table>
    <thead><tr><th>Number</th><th>Date</th><th>Amount</th><th>Status</th><th class="optional"></th></tr></thead>
    <tbody>
    {% for invoice in page["invoices"] or [] %}
      <tr>
        <td><a href="{{ invoice["hosted_invoice_url"] }}" rel="noopener">{{ invoice["number"] }}</a></td>
        <td>{{ invoice["created"] }}</td>
        <td>{{ invoice["total"] }} {{ invoice["currency"] }}</td>
        <td>{{ invoice["status"] }}</td>
        <td class="optional"><a href="{{ invoice["invoice_pdf"] }}" rel="noopener">PDF</a></td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
</section>
{% endblock %}"""
app.jinja_loader = DictLoader({"layout.html": LAYOUT, "account.html": PAGE})


@app.route("/account")
@login_required
def account():
    return render_template("account.html", user=current_user, page=current_user.page, token=generate_csrf(),
                           company="Example")


@app.route("/")
def ready():
    return "ready"


# the headers billing_app's pages carry on an https site (blueprint.default_headers)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "strict-origin-when-cross-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains", "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self' https://checkout.stripe.com https://billing.stripe.com"}


@app.after_request
def security_headers(response):
    response.headers.update(SECURITY_HEADERS)
    return response


pool.open()

from itertools import groupby

from flask import render_template

from billing_app.account.summary import interval_words
from billing_app.db import get_db
from billing_app.money import format_money
from billing_app.plans import bp
from billing_app.plans.queries import active_recurring_prices


@bp.route("/pricing")
def pricing():
    prices = [{**row, "amount": format_money(row["unit_amount"], row["currency"]),
               "interval": interval_words(row["recurring_interval"], row["recurring_interval_count"])}
              for row in active_recurring_prices(get_db())]
    products = [(name, list(group)) for name, group in groupby(prices, key=lambda p: p["product_name"])]
    return render_template("plans/pricing.html", products=products)

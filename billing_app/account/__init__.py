"""The account & billing page and its JSON twin, read straight from the mirror."""

from flask import Blueprint

bp = Blueprint("account", __name__)

# Stripe-hosted pages send the customer back to /account?from=<where>; the page
# then says that the mirror may need a moment to catch up, and polls until it has.
RETURN_PARAM = "from"
RETURN_SOURCES = {"portal": "Changes you made in the billing portal can take a few seconds to appear here.",
                  "checkout": "Your new subscription can take a few seconds to appear here."}

from billing_app.account import views  # noqa: E402,F401  (routes register on import)

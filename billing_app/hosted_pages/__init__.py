"""Stripe-hosted pages: a Checkout session to subscribe, a Customer Portal session for the rest.

The services the checkout and portal views (and the account page's buttons)
share.  Each takes the database, the StripeApi and the settings as arguments,
so a command or a test calls it without a request; none holds a database
connection while Stripe answers.  Stripe sends the customer back to
/account?from=<where>; the page then says that the mirror may need a moment to
catch up, and polls until it has.
"""

RETURN_PARAM = "from"
RETURN_SOURCES = {"portal": "Changes you made in the billing portal can take a few seconds to appear here.",
                  "checkout": "Your new subscription can take a few seconds to appear here."}

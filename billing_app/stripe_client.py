"""The app's one Stripe client, built from configuration.

There is no module-level ``stripe.api_key``: every call goes through the
``StripeClient`` stored on the app, so tests and stripe-mock can point it at
another base address (``STRIPE_API_BASE``).
"""

from __future__ import annotations

import stripe
from flask import current_app


class StripeNotConfigured(RuntimeError):
    """STRIPE_SECRET_KEY is not set (allowed only in debug and testing)."""


def build_stripe_client(config) -> stripe.StripeClient | None:
    """A StripeClient with explicit timeouts and retries, or None when no key is set."""
    api_key = config.get("STRIPE_SECRET_KEY")
    if not api_key:
        return None
    base_addresses = {}
    if config.get("STRIPE_API_BASE"):
        base_addresses = {"api": config["STRIPE_API_BASE"]}
    return stripe.StripeClient(
        api_key,
        base_addresses=base_addresses,
        max_network_retries=config["STRIPE_MAX_NETWORK_RETRIES"],
        http_client=stripe.RequestsClient(timeout=config["STRIPE_TIMEOUT"]),
    )


def stripe_client() -> stripe.StripeClient:
    """The current app's client; raises StripeNotConfigured when there is none."""
    client = current_app.extensions.get("stripe_client")
    if client is None:
        raise StripeNotConfigured("STRIPE_SECRET_KEY is not set")
    return client

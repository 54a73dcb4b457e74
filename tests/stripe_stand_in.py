"""Helpers for the local Stripe stand-in (pytest-httpserver): canned answers and request bodies."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from urllib.parse import parse_qsl

from werkzeug import Request, Response

PORTAL_URL = "https://billing.stripe.com/p/session/test_YWNjdF8x"


def sent_form(request: Request) -> dict[str, str]:
    """The form-encoded body Stripe received, as {"flow_data[type]": "...", ...}."""
    pairs = parse_qsl(request.get_data(as_text=True), keep_blank_values=True, strict_parsing=True)
    body = dict(pairs)
    assert len(body) == len(pairs), f"repeated keys in {pairs}"
    return body


def requests_to(stripe_api, path: str, method: str = "POST") -> list[Request]:
    return [request for request, _ in stripe_api.log if request.path == path and request.method == method]


def answer_portal_session(stripe_api, url: str = PORTAL_URL) -> None:
    stripe_api.expect_request("/v1/billing_portal/sessions", method="POST").respond_with_json(
        {"id": "bps_1", "object": "billing_portal.session", "url": url, "livemode": False})


def answer_error(stripe_api, path: str, status: int, error: dict, method: str = "POST", headers=None) -> None:
    stripe_api.expect_request(path, method=method).respond_with_response(
        Response(json.dumps({"error": error}), status=status, content_type="application/json",
                 headers=headers or {}))


@contextmanager
def hanging(stripe_api, path: str):
    """The stand-in does not answer ``path`` until the block ends (a Stripe that hangs)."""
    released = threading.Event()

    def hang(request):
        released.wait(10)
        return Response("{}", content_type="application/json")

    stripe_api.expect_request(path, method="POST").respond_with_handler(hang)
    try:
        yield
    finally:
        released.set()


NO_PORTAL_CONFIGURATION = {
    "type": "invalid_request_error",
    "message": "No configuration provided and your test mode default configuration has not been created. "
               "Provide a configuration or create your default by saving your customer portal settings in "
               "test mode at https://dashboard.stripe.com/test/settings/portal.",
}
NO_SUCH_CUSTOMER = {"type": "invalid_request_error", "code": "resource_missing", "param": "customer",
                    "message": "No such customer: 'cus_me'"}
INVALID_API_KEY = {"type": "invalid_request_error",
                   "message": "Invalid API Key provided: sk_test_****p7dc"}
RATE_LIMITED = {"type": "invalid_request_error", "code": "rate_limit",
                "message": "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."}

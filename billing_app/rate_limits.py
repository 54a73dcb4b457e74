"""Rate limits per signed-in user, counted in RATELIMIT_STORAGE_URI (the `limits` library).

Each app has its own counters (storage, key prefix), so two apps in one
process, or a host app with its own rate limits, never share a budget.  When
the storage does not answer (Redis down), the request goes through and the
failure is logged: a broken counter must not lock every customer out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app
from limits import parse_many, storage, strategies

from billing_app.errors import BillingError

log = logging.getLogger(__name__)


@dataclass
class RateLimits:
    limiter: strategies.RateLimiter
    key_prefix: str

    @classmethod
    def from_settings(cls, settings) -> "RateLimits":
        store = storage.storage_from_string(settings["RATELIMIT_STORAGE_URI"])
        return cls(strategies.FixedWindowRateLimiter(store), settings["RATELIMIT_KEY_PREFIX"])

    def hit(self, limits_text: str, scope: str, key: str) -> None:
        """Count one request of ``key`` against ``limits_text``; BillingError 429 when over."""
        for limit in parse_many(limits_text):
            try:
                allowed = self.limiter.hit(limit, self.key_prefix, scope, key)
            except Exception as exc:  # noqa: BLE001  the counter's storage failed: let the request through
                log.error("rate limit storage failed (%s); %s not counted", type(exc).__name__, scope)
                return
            if not allowed:
                try:
                    reset = self.limiter.get_window_stats(limit, self.key_prefix, scope, key).reset_time
                    seconds = max(1, int(reset - time.time()) + 1)
                except Exception:  # noqa: BLE001
                    seconds = limit.get_expiry()
                raise BillingError(429, "too_many_requests",
                                   f"Too many requests. Please wait {seconds} seconds and try again.",
                                   retry_after=seconds)


def rate_limit(limits_text: str, scope: str, key: str) -> None:
    current_app.extensions["billing_rate_limits"].hit(limits_text, scope, key)

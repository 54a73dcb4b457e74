"""Rate limits, counted in RATELIMIT_STORAGE_URI (the `limits` library, which Flask-Limiter is built on).

Each app has its own counters (storage, key prefix), so two apps in one
process, or a host app with limits of its own, never share a budget.  When the
storage does not answer (Redis down), counting goes on in this process's
memory and the failure is logged (once a minute): never a 500, never a door
left open.

The limits (settings): portal sessions and checkouts per user share
PORTAL_RATE_LIMIT; API_RATE_LIMIT per user for the JSON summary;
SIGN_IN_IP_RATE_LIMIT on every sign-in try per address and SIGN_IN_RATE_LIMIT
on failed tries per email and address (cleared by a success, so nobody
elsewhere can lock an account out by failing on purpose); SIGN_UP_RATE_LIMIT
per address for new accounts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import wraps

from flask import current_app, request
from limits import RateLimitItem, parse_many, storage, strategies

from billing_app.errors import BillingError
from billing_app.request_log import logger

log = logger(__name__)


class MemoryCounters(storage.MemoryStorage):
    """limits' in-process storage (``memory://``) for fixed windows, its expired counters swept at
    most every SWEEP_SECONDS by the hit passing by.  limits' own sweep runs on a new timer thread
    10 ms after a hit and walks every counter holding the GIL: about 0.4 ms per 5,000 users, up to
    100 times a second per process under load, which every other request of the process waits out
    (issue 16's portal profile).  A counter past its window is dropped when it is next read either
    way (MemoryStorage.get), so the sweep only gives back memory."""

    SWEEP_SECONDS = 10.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS
        self._sweeping = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # limits calls it on every hit (limits 3.13 to 5.x)
        if time.monotonic() >= self._next_sweep and self._sweeping.acquire(blocking=False):
            try:
                self._next_sweep = time.monotonic() + self.SWEEP_SECONDS
                self.sweep()
            finally:
                self._sweeping.release()

    def sweep(self) -> None:
        """Forget the counters whose window is over; safe beside hits on other threads (a counter
        another thread drops or renews meanwhile is left to it)."""
        now = time.time()
        for key, expiry in list(self.expirations.items()):
            if expiry <= now:
                with self.locks[key]:
                    if self.expirations.get(key, now + 1) > now:
                        continue
                    self.storage.pop(key, None)
                    self.expirations.pop(key, None)
                self.locks.pop(key, None)


def counts_per_process(uri: str) -> bool:
    """Does RATELIMIT_STORAGE_URI keep its counters in each process's memory (memory://)?"""
    return uri.partition("://")[0] == "memory"


def counters(uri: str) -> storage.Storage:
    """The storage RATELIMIT_STORAGE_URI names (memory:// is MemoryCounters)."""
    return MemoryCounters() if counts_per_process(uri) else storage.storage_from_string(uri)


@dataclass
class RateLimits:
    limiter: strategies.RateLimiter
    key_prefix: str
    fallback: strategies.RateLimiter = field(
        default_factory=lambda: strategies.FixedWindowRateLimiter(MemoryCounters()))
    _last_warning: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings) -> "RateLimits":
        store = counters(settings["RATELIMIT_STORAGE_URI"])
        return cls(strategies.FixedWindowRateLimiter(store), settings["RATELIMIT_KEY_PREFIX"])

    def hit(self, limits_text: str, scope: str, key: str) -> None:
        """Count one request of ``key`` against ``limits_text``; BillingError 429 when over."""
        for limit in parse_many(limits_text):
            limiter, allowed = self._call("hit", limit, scope, key)
            if not allowed:
                raise too_many(self._seconds_left(limiter, limit, scope, key))

    def check(self, limits_text: str, scope: str, key: str) -> None:
        """BillingError 429 when ``key`` has already spent ``limits_text``; counts nothing."""
        for limit in parse_many(limits_text):
            limiter, allowed = self._call("test", limit, scope, key)
            if not allowed:
                raise too_many(self._seconds_left(limiter, limit, scope, key))

    def clear(self, limits_text: str, scope: str, key: str) -> None:
        """Forget what ``key`` spent (a successful sign-in clears its failures)."""
        for limit in parse_many(limits_text):
            self._call("clear", limit, scope, key)

    def _call(self, method: str, limit: RateLimitItem, scope: str, key: str):
        limiter = self.limiter
        try:
            return limiter, getattr(limiter, method)(limit, self.key_prefix, scope, key)
        except Exception as exc:  # noqa: BLE001  the storage failed: count in this process instead
            self._warn(exc)
            return self.fallback, getattr(self.fallback, method)(limit, self.key_prefix, scope, key)

    def _seconds_left(self, limiter: strategies.RateLimiter, limit: RateLimitItem, scope: str, key: str) -> int:
        try:
            reset = limiter.get_window_stats(limit, self.key_prefix, scope, key).reset_time
            return max(1, int(reset - time.time()) + 1)
        except Exception:  # noqa: BLE001
            return limit.get_expiry()

    def _warn(self, exc: Exception) -> None:
        with self._lock:
            if time.monotonic() - self._last_warning < 60:
                return
            self._last_warning = time.monotonic()
        log.error("rate limit storage failed (%s: %s); counting in this process's memory until it answers",
                  type(exc).__name__, exc)


def too_many(seconds: int) -> BillingError:
    return BillingError(429, "too_many_requests", f"Too many requests. Please wait {seconds} seconds and try again.",
                        retry_after=seconds)


def rate_limit(limits_text: str, scope: str, key: str) -> None:
    current_app.extensions["billing_rate_limits"].hit(limits_text, scope, key)


def rate_limits() -> RateLimits:
    return current_app.extensions["billing_rate_limits"]


def client_address() -> str:
    """The address a request came from (behind a proxy, configure werkzeug's ProxyFix to make it the client's)."""
    return request.remote_addr or "unknown"


def per_user_limit(setting: str, scope: str):
    """A view counted per signed-in user against the limit in ``setting`` (views sharing a scope share
    one budget: the portal button, the portal API and checkout all spend PORTAL_RATE_LIMIT)."""
    def decorate(view):
        @wraps(view)
        def limited(*args, **kwargs):
            from billing_app.billing import settings
            from billing_app.identity import current_billing_user
            rate_limit(settings()[setting], scope, current_billing_user().id)
            return view(*args, **kwargs)
        return limited
    return decorate

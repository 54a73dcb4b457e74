"""gunicorn settings for billing_app: `gunicorn -c gunicorn.conf.py wsgi:app`.

Worker model: threaded workers (gthread), one process per core plus one, 16
threads each.  A portal click spends almost all its time waiting for Stripe
(hundreds of milliseconds, sometimes seconds); a waiting thread holds no
database connection (billing_app returns it before calling Stripe) and no GIL,
so the threads keep slow Stripe calls from starving the account page, and at
most STRIPE_MAX_CONCURRENT_CALLS of them wait on Stripe at once.  Measured in
BENCHMARKS.md.  Every value can be overridden from the environment
(WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_BIND; the timeout is billing_app's
WORKER_TIMEOUT).
"""

import math
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# Never preload: each worker must open its own connection pool after the fork.
preload_app = False
graceful_timeout = 20
keepalive = 5


def _billing_settings() -> dict:
    """billing_app's settings, read here for the worker timeout; a malformed one stops start-up in one line."""
    from billing_app import settings_source
    from billing_app.config import ConfigError, load_settings
    try:
        return load_settings(settings_source(None))
    except ConfigError as exc:
        raise SystemExit(f"billing_app: {exc}") from None


_settings = _billing_settings()
# One request's time: the app starts a Stripe call only when it can end within it (WORKER_TIMEOUT).
timeout = math.ceil(_settings["WORKER_TIMEOUT"])

# One Stripe call at its worst must fit in that time: checked here, at start-up, with one line.
from billing_app.stripe_client import check_worker_timeout  # noqa: E402 after the settings it checks

_problem = check_worker_timeout(_settings)
if _problem:
    raise SystemExit(f"billing_app: {_problem}")


def when_ready(server) -> None:
    """Said once at start: counters in memory are each worker's own, so several workers multiply every limit."""
    from billing_app.rate_limits import counts_per_process
    workers_running = server.cfg.workers
    if workers_running > 1 and counts_per_process(_settings["RATELIMIT_STORAGE_URI"]):
        server.log.warning(
            "billing_app: RATELIMIT_STORAGE_URI is memory://, counted in each of the %d workers apart: every rate "
            "limit (sign-in failures, password resets, portal sessions) allows up to %d times its count; set "
            "RATELIMIT_STORAGE_URI=redis://host:6379/0 to share one count", workers_running, workers_running)

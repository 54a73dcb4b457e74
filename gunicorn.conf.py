"""gunicorn settings for billing_app: `gunicorn -c gunicorn.conf.py wsgi:app`.

Worker model: threaded workers (gthread), one process per core, many threads
each.  A portal click spends almost all its time waiting for Stripe (hundreds
of milliseconds, sometimes seconds); a waiting thread holds no database
connection (billing_app returns it before calling Stripe) and no GIL, so 32
threads per worker keep slow Stripe calls from starving the account page.
Measured in BENCHMARKS.md.  Every value can be overridden from the environment.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# Never preload: each worker must open its own connection pool after the fork.
preload_app = False
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5


# One Stripe call must end before the worker timeout: checked here, at start-up, with one line.
def _check_stripe_fits() -> None:
    from billing_app import settings_source
    from billing_app.config import ConfigError, load_settings
    from billing_app.stripe_client import check_worker_timeout
    if not timeout:
        return  # 0: gunicorn never times a worker out
    try:
        problem = check_worker_timeout(load_settings(settings_source(None)), timeout)
    except ConfigError:
        return  # the app names bad settings itself when it loads
    if problem:
        raise SystemExit(f"billing_app: {problem}")


_check_stripe_fits()

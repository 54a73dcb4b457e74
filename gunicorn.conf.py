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

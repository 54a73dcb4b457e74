"""Applies the plain SQL files in ``sql/`` in their fixed order: ``flask db init``.

Order (see ``schema_files``):

1. ``010_stripe_mirror.sql``: Sequin-shape mirror tables, only with ``--mirror``
   (local runs, demo, tests) and only when the database holds no other mirror;
   in production the sync service owns schema ``stripe``.
2. ``020_app_schema.sql``, ``030_roles.sql``: the app's own schema and roles.
3. ``mirror/010_shape.sql``: the canonical shape (schema ``billing_mirror``,
   rebuilt from scratch each time).
4. ``sources/<source>/*.sql``: the adapter of the source found in the database
   (or forced by STRIPE_MIRROR): its functions, grants and lookup indexes.
5. ``mirror/020_views.sql``: the canonical views over the adapter.
6. ``reporting/*.sql``: the analysts' views and the precomputed reports' tables.

Views of a team's own built on those of 3, 5 and 6 (in schemas of its own) are
read before and made again after, as they were; anything else of the team's the
run would drop stops it (``dependents.py``).

All files are applied in one transaction under an advisory lock, so a failed
run leaves nothing half-written and two processes never apply them at once
(nor one while `flask report refresh` runs). Once that transaction has
committed, the precomputed reports are refreshed in a transaction of their own
(billing_app/reporting/rollups.py), so the schema's locks are never held
while the reports are computed (nor a team's materialized views, refreshed
last). Running it again changes nothing but the reports' refresh time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from billing_app.billing import BillingState, StartupError
from billing_app.db import connection_failure
from billing_app.mirror.source import (DEFAULT_USER_KEY, MIRROR_VIEWS, Source, SourceError, detect_source,
                                       installed_source, sources_present, user_key_index)
from billing_app.reporting.reports import first_line
from billing_app.schema.dependents import (DependentsError, check_nothing_dropped, fill_again, make_again,
                                           objects_outside, views_built_on_ours)
from billing_app.reporting.rollups import REFRESH_LOCK, Refreshed, RefreshError, refresh_rollups
from billing_app.resources import SQL_DIR

MIRROR_FILE = "010_stripe_mirror.sql"
APP_SCHEMA_FILE = "020_app_schema.sql"
UPDATES_DIR = SQL_DIR / "updates"
_LOCK_KEY = 727_115_001  # any constant: serialises concurrent schema runs
MIRROR_LOCK_TIMEOUT = "10s"  # how long db init waits for the sync service's writes to the mirror's tables
NOTE_PREFIX = "billing_app: "  # a NOTICE from sql/ meant for the operator


class SchemaError(RuntimeError):
    """A schema file could not be applied; the message names the file and the fix.  ``notes``: what the
    run had done and told before it stopped (when the schema itself was committed)."""

    def __init__(self, message: str, notes: list[str] | None = None) -> None:
        super().__init__(message)
        self.notes = notes or []


@dataclass
class SchemaResult:
    source: str
    applied: list[str]
    refreshed: list[Refreshed]
    notes: list[str] = field(default_factory=list)  # what the SQL told the operator (RAISE NOTICE 'billing_app: ...')


def schema_files(source: str, *, with_mirror: bool = False) -> list[Path]:
    """The files `flask db init` applies for ``source``, in order."""
    files = [SQL_DIR / MIRROR_FILE] if with_mirror else []
    files += [SQL_DIR / APP_SCHEMA_FILE, SQL_DIR / "030_roles.sql", SQL_DIR / "mirror" / "010_shape.sql"]
    files += sorted((SQL_DIR / "sources" / source).glob("[0-9]*.sql"))
    files += [SQL_DIR / "mirror" / "020_views.sql"]
    files += sorted((SQL_DIR / "reporting").glob("[0-9]*.sql"))
    return files


def apply_schema(conninfo: str, *, with_mirror: bool, source: str | None = None,
                 user_key: str = DEFAULT_USER_KEY) -> SchemaResult:
    """Apply the schema files for the mirror in the database (``source`` forces one).

    ``with_mirror`` first creates Sequin-shape mirror tables when the database
    holds no mirror yet (a local database).  A ``user_key`` other than user_id
    (STRIPE_CUSTOMER_USER_KEY) gets its own lookup index on the customers.
    Returns the source and the files applied.
    """
    notes: list[str] = []
    try:
        with psycopg.connect(conninfo) as conn:
            conn.add_notice_handler(lambda notice: _keep_note(notes, notice))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (REFRESH_LOCK,))
            create_mirror = with_mirror and _wants_local_mirror(conn, source)
            if create_mirror:
                _apply(conn, SQL_DIR / MIRROR_FILE)
            try:
                found = detect_source(conn, source)
            except SourceError as exc:
                raise SchemaError(str(exc)) from None
            _lock_mirror_tables(conn, found)
            kept = views_built_on_ours(conn)  # a team's own views on ours, and all else of theirs
            theirs = objects_outside(conn)
            applied = [MIRROR_FILE] if create_mirror else []
            for path in schema_files(found.name):
                _apply(conn, path)
                applied.append(str(path.relative_to(SQL_DIR)))
                if path.name == APP_SCHEMA_FILE:  # the tables as they first were, then every change since
                    applied += [f"updates/{name}" for name in apply_updates(conn)]
            conn.execute("UPDATE billing_app.customer_link SET user_key = %s", (user_key,))
            index = user_key_index(found, user_key)
            if index is not None:
                conn.execute(index[1])
                applied.append(f"index {index[0]} (STRIPE_CUSTOMER_USER_KEY={user_key})")
            notes += [f"made your {view} again (it is built on billing_app's views, which this run made again)"
                      for view in make_again(conn, kept)]
            check_nothing_dropped(conn, conninfo, theirs)
    except DependentsError as exc:
        raise SchemaError(f"{exc}; nothing was changed") from None
    except psycopg.OperationalError as exc:
        raise SchemaError(f"cannot connect to the database: {str(exc).splitlines()[0]}") from None
    failed = []
    try:
        refreshed = refresh_rollups(conninfo, wait=True)
    except (RefreshError, psycopg.Error) as exc:
        failed.append(f"refreshing the precomputed reports failed: {first_line(exc)}; run `flask report refresh`")
    filled, not_filled = fill_again(conninfo, kept)  # a team's, after the reports they may read, failed or not
    notes += [f"refreshed your materialized view {view}" for view in filled]
    if failed or not_filled:
        raise SchemaError(f"the schema is up to date, but {'; '.join(failed + not_filled)}", notes)
    return SchemaResult(found.name, applied, refreshed, notes)


def _lock_mirror_tables(conn: psycopg.Connection, source: Source) -> None:
    """Take the lock CREATE INDEX takes on the source's tables before the files change anything.

    The files change the privileges of every table in schema stripe (030_roles.sql), which
    rewrites each table's row in pg_class, then index some of them (020_indexes.sql). A VACUUM
    or ANALYZE of one of those tables in between (autovacuum's, or the sync service's) holds a
    lock that CREATE INDEX waits for, while it waits for this transaction to record its
    statistics in that pg_class row: PostgreSQL ends one of the two as a deadlock. Taken first,
    the lock lets one under way finish (autovacuum's is cancelled) and holds a later one back
    until the commit. The sync service's writes to these tables wait for the commit, as they
    would for CREATE INDEX. A table that stays busy (a long write, or a VACUUM against
    wraparound, which is never cancelled) ends the run after MIRROR_LOCK_TIMEOUT rather than
    holding the other tables' writes back for as long.
    """
    present = [name for (name,) in conn.cursor(row_factory=tuple_row).execute(
        "SELECT name FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, n) "
        "WHERE to_regclass(format('stripe.%%I', name)) IS NOT NULL ORDER BY n", (list(source.tables),))]
    if not present:  # a missing table is the adapter's to report (sources/<source>/010_adapter.sql)
        return
    try:
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (MIRROR_LOCK_TIMEOUT,))
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
            sql.SQL(", ").join(sql.Identifier("stripe", name) for name in present)))
        conn.execute("SET LOCAL lock_timeout TO DEFAULT")
    except psycopg.errors.LockNotAvailable:
        raise SchemaError(f"the mirror's tables stayed busy for {MIRROR_LOCK_TIMEOUT} (a long write by the sync "
                          "service, or a VACUUM): nothing was changed; run `flask db init` again") from None
    except psycopg.Error as exc:
        raise SchemaError(f"locking the mirror's tables failed: {first_line(exc)}; nothing was changed") from None


def _keep_note(notes: list[str], notice: psycopg.errors.Diagnostic) -> None:
    message = notice.message_primary or ""
    if message.startswith(NOTE_PREFIX):
        notes.append(message.removeprefix(NOTE_PREFIX))


def pending_updates(conn: psycopg.Connection) -> list[str]:
    """The files of sql/updates/ this database has not had yet, in the order they apply (all of them
    when it predates billing_app.schema_updates)."""
    cursor = conn.cursor(row_factory=tuple_row)
    tracked = cursor.execute("SELECT to_regclass('billing_app.schema_updates') IS NOT NULL").fetchone()[0]
    done = {name for (name,) in cursor.execute("SELECT name FROM billing_app.schema_updates").fetchall()} \
        if tracked else set()
    return [path.name for path in sorted(UPDATES_DIR.glob("*.sql")) if path.name not in done]


def apply_updates(conn: psycopg.Connection) -> list[str]:
    """Apply the pending updates in name (date) order, each recorded as applied, inside the caller's
    transaction: all of them and the rest of the schema, or nothing."""
    names = pending_updates(conn)
    for name in names:
        _apply(conn, UPDATES_DIR / name)
        conn.execute("INSERT INTO billing_app.schema_updates (name) VALUES (%s)", (name,))
    return names


def check_database_ready(billing: BillingState) -> None:
    """Before serving, fail fast (StartupError, one line) when the database cannot be reached, lacks
    the schema, has another mirror than `flask db init` prepared for, has not had this version's
    updates (`flask db upgrade`), or refuses the role."""
    role = billing.settings["DATABASE_ROLE"]
    try:
        with psycopg.connect(billing.database_url(), connect_timeout=5, autocommit=True) as conn:
            try:
                source = detect_source(conn, billing.settings["STRIPE_MIRROR"])
                has_users = conn.execute("SELECT to_regclass('billing_app.users')").fetchone()[0] is not None
                installed = installed_source(conn) if has_users else None
            except SourceError as exc:
                raise StartupError(str(exc)) from None
            if not has_users:
                raise StartupError("the database has no billing_app schema: run `flask db init`")
            pending = pending_updates(conn)
            if pending:
                raise StartupError(f"the database has not had this version's schema updates "
                                   f"({', '.join(pending)}): run `flask db upgrade`")
            if installed != source.name:
                raise StartupError(
                    f"the database holds {source.label}'s tables but `flask db init` has "
                    + (f"prepared the app for {installed}" if installed else "not prepared the app for them")
                    + ": run `flask db init`")
            try:
                if role:
                    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
                for view in MIRROR_VIEWS:  # through the adapter, down to the source's tables
                    conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier("billing_mirror", view)))
                conn.execute("SELECT 1 FROM billing_app.users LIMIT 1")
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                who = f"the app's database role {role}" if role else "the login in DATABASE_URL"
                raise StartupError(
                    f"{who} cannot read the mirror ({str(exc).splitlines()[0]}): run `flask db init`"
                    + (f" and GRANT {role} TO the login in DATABASE_URL" if role else "")) from None
    except psycopg.OperationalError as exc:
        raise StartupError(
            f"cannot connect to DATABASE_URL ({connection_failure(exc)}): "
            "check that PostgreSQL is running and that DATABASE_URL names its host, port, user and database"
        ) from None
    except psycopg.Error as exc:
        raise StartupError(f"cannot check the database ({str(exc).splitlines()[0]}): check that the login in "
                           "DATABASE_URL may use the database, then run `flask db init`") from None


def _wants_local_mirror(conn: psycopg.Connection, source: str | None) -> bool:
    """--mirror makes Sequin's shape, unless the database already holds another mirror."""
    if source not in (None, "sequin"):
        raise SchemaError(f"--mirror creates Sequin's shape, but STRIPE_MIRROR={source}: "
                          f"that engine's own migrations create its tables")
    present = sources_present(conn)
    return not present or present == ["sequin"]


def _apply(conn: psycopg.Connection, path: Path) -> None:
    try:
        conn.execute(path.read_text())
    except psycopg.Error as exc:
        message = str(exc).splitlines()[0]
        shown = path.relative_to(SQL_DIR) if path.is_relative_to(SQL_DIR) else f"{path.parent.name}/{path.name}"
        raise SchemaError(f"sql/{shown} failed: {message}; nothing was changed") from None

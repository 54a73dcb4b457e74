"""Rollups: the aggregate reports, stored, and their refresh.

Which reports are rolled up, and how a rollup is built, is defined once in
``sql/reporting/100_rollups.sql``; this module reads the list from
``reporting_rollups.refreshes`` and never names a report.  A refresh recomputes
every rollup from its live definition (``reporting_live.<name>``) in one
REPEATABLE READ transaction, so all rollups come from the same moment of the
mirror, and readers see the previous result until the new one commits (rows
are deleted and inserted, never truncated, so a reader never waits).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.rows import tuple_row

from billing_app.mirror.freshness import last_written
from billing_app.mirror.source import SOURCES, installed_source
from billing_app.reporting.reports import first_line

REFRESH_WORK_MEM = "256MB"  # for the one refresh that runs at a time
REFRESH_LOCK = 727_115_002  # any constant: one refresh at a time, and none while `flask db init` runs


class RefreshError(RuntimeError):
    """The refresh could not run; the message says why and what to do. Nothing was changed."""


class RefreshBusy(RefreshError):
    """Another refresh (or `flask db init`) holds the lock; this one did nothing."""


@dataclass(frozen=True)
class Refreshed:
    rollup: str
    rows: int
    seconds: float


@dataclass(frozen=True)
class Freshness:
    rollup: str
    refreshed_at: datetime | None     # None: never refreshed
    mirror_synced_at: datetime | None
    age: timedelta | None

    def words(self) -> str:
        """"refreshed 4 minutes ago (2026-11-23 12:00 UTC), mirror data up to 11:59 UTC" or "never refreshed"."""
        if self.refreshed_at is None:
            return "never refreshed: run `flask report refresh`"
        text = f"refreshed {age_words(self.age)} ago ({utc_time(self.refreshed_at)})"
        if self.mirror_synced_at is not None:
            text += f", from mirror data up to {utc_time(self.mirror_synced_at)}"
        return text


def utc_time(moment: datetime) -> str:
    """A moment as the commands print it: "2026-11-23 12:00 UTC"."""
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def age_words(age: timedelta) -> str:
    """An age as people say it: "40 seconds", "12 minutes", "5.5 hours", "3.0 days"."""
    seconds = max(age.total_seconds(), 0)
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def rollup_names(conn: psycopg.Connection) -> list[str]:
    cur = conn.cursor(row_factory=tuple_row)
    return [name for (name,) in cur.execute("SELECT rollup FROM reporting_rollups.refreshes ORDER BY rollup")]


def fill_rollups(conn: psycopg.Connection) -> list[Refreshed]:
    """Recompute every rollup inside the caller's transaction, which holds REFRESH_LOCK."""
    source = installed_source(conn)
    if source is None:
        raise RefreshError("the database has no schema yet: run `flask db init` first")
    synced = last_written(conn, source_records_sync_time=SOURCES[source].synced_at_column is not None)
    done = []
    for name in rollup_names(conn):
        started = time.perf_counter()
        table = sql.Identifier("reporting_rollups", name)
        conn.execute(sql.SQL("DELETE FROM {}").format(table))  # never TRUNCATE: readers would wait
        rows = conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
            table, sql.Identifier("reporting_live", name))).rowcount
        seconds = time.perf_counter() - started
        conn.execute("""UPDATE reporting_rollups.refreshes
                           SET refreshed_at = now(), mirror_synced_at = %s, refresh_seconds = %s, rows = %s
                         WHERE rollup = %s""", (synced, round(seconds, 3), rows, name))
        done.append(Refreshed(name, rows, seconds))
    return done


def refresh_rollups(conninfo: str, *, role: str = "", wait: bool = False,
                    poll_seconds: float = 1.0) -> list[Refreshed]:
    """`flask report refresh`: every rollup, from one snapshot of the mirror, committed at once.

    Connects to ``conninfo`` (the primary), as ``role`` when given.  When another
    refresh (or `flask db init`) holds the lock, raises RefreshBusy, or with
    ``wait`` tries again every ``poll_seconds`` until it is free.  The lock is
    a transaction lock taken by the transaction's first statement: nothing is
    left held if the connection drops, and it works behind a transaction-mode
    pooler (PgBouncer, Supavisor).
    """
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise RefreshError(f"cannot connect to the database: {first_line(exc)}") from None
    with conn:
        if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            raise RefreshError("this database is a read replica: run the refresh on the primary "
                               "(the rollups reach the replica like any table)")
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        retries = 3
        while True:
            try:
                with conn.transaction():
                    # one refresh at a time: room to sort and hash the whole mirror in memory
                    conn.execute(f"SET LOCAL work_mem = '{REFRESH_WORK_MEM}'")
                    if role:
                        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                    if conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (REFRESH_LOCK,)).fetchone()[0]:
                        return fill_rollups(conn)
                    holder = _lock_holder(conn)
            except psycopg.errors.SerializationFailure:
                # a refresh that committed between this transaction's snapshot and its lock
                retries -= 1
                if retries:
                    continue
                raise
            if not wait:
                raise RefreshBusy(holder)
            time.sleep(poll_seconds)


def _lock_holder(conn: psycopg.Connection) -> str:
    row = conn.execute(
        """SELECT l.pid, a.application_name, a.backend_start
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1""",
        (REFRESH_LOCK,)).fetchone()
    if row is None:
        return "another refresh or `flask db init` is running; this one did nothing"
    pid, application, started = row
    by = f" ({application})" if application else ""
    return (f"another refresh or `flask db init` is running (server process {pid}{by}, connected "
            f"{utc_time(started) if started else 'at an unknown time'}); this one did nothing: use --wait to wait for it")


def rollup_freshness(conn: psycopg.Connection) -> dict[str, Freshness]:
    """{rollup: when it was refreshed} from reporting.rollup_freshness (readable by the reporting role)."""
    cur = conn.cursor(row_factory=tuple_row)
    rows = cur.execute("SELECT rollup, refreshed_at, mirror_synced_at, age FROM reporting.rollup_freshness "
                       "ORDER BY rollup").fetchall()
    return {row[0]: Freshness(*row) for row in rows}

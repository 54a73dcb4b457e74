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

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from time import perf_counter

import psycopg
from psycopg import IsolationLevel, sql
from psycopg.rows import tuple_row

from billing_app.mirror.freshness import last_written
from billing_app.mirror.source import SOURCES, installed_source

REFRESH_LOCK = 727_115_002  # any constant: one refresh at a time, and none while `flask db init` rebuilds them


class RefreshBusy(RuntimeError):
    """Another refresh holds the lock; this one did nothing."""


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
        text = f"refreshed {age_words(self.age)} ago ({_utc(self.refreshed_at)})"
        if self.mirror_synced_at is not None:
            text += f", from mirror data up to {_utc(self.mirror_synced_at)}"
        return text


def _utc(moment: datetime) -> str:
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
    """Recompute every rollup inside the caller's transaction; returns what each took."""
    source = installed_source(conn)
    synced = last_written(conn, source_records_sync_time=SOURCES[source].synced_at_column is not None)
    done = []
    for name in rollup_names(conn):
        started = perf_counter()
        table = sql.Identifier("reporting_rollups", name)
        conn.execute(sql.SQL("DELETE FROM {}").format(table))
        rows = conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
            table, sql.Identifier("reporting_live", name))).rowcount
        seconds = perf_counter() - started
        conn.execute("""UPDATE reporting_rollups.refreshes
                           SET refreshed_at = now(), mirror_synced_at = %s, refresh_seconds = %s, rows = %s
                         WHERE rollup = %s""", (synced, round(seconds, 3), rows, name))
        done.append(Refreshed(name, rows, seconds))
    return done


def refresh_rollups(conninfo: str, *, wait: bool = False) -> list[Refreshed]:
    """`flask report refresh`: every rollup, from one snapshot of the mirror, committed at once.

    Connects to ``conninfo`` (the primary, as the schema's owner).  When another
    refresh is running, raises RefreshBusy, or with ``wait`` waits for it to end.
    """
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (REFRESH_LOCK,)).fetchone()[0]:
            if not wait:
                raise RefreshBusy(_lock_holder(conn))
            conn.execute("SELECT pg_advisory_lock(%s)", (REFRESH_LOCK,))
        try:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                return fill_rollups(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (REFRESH_LOCK,))


def _lock_holder(conn: psycopg.Connection) -> str:
    row = conn.execute(
        """SELECT l.pid, a.application_name, a.backend_start
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1""",
        (REFRESH_LOCK,)).fetchone()
    if row is None:
        return "another refresh is running; this one did nothing"
    pid, application, started = row
    by = f" ({application})" if application else ""
    return (f"another refresh is running (server process {pid}{by}, connected {_utc(started)}); "
            "this one did nothing: use --wait to wait for it")


def rollup_freshness(conn: psycopg.Connection) -> dict[str, Freshness]:
    """{rollup: when it was refreshed} from reporting.rollup_freshness (readable by the reporting role)."""
    cur = conn.cursor(row_factory=tuple_row)
    rows = cur.execute("SELECT rollup, refreshed_at, mirror_synced_at, age FROM reporting.rollup_freshness "
                       "ORDER BY rollup").fetchall()
    return {row[0]: Freshness(*row) for row in rows}

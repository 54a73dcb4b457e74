"""How fresh the mirror is: when the sync service last wrote a row."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import tuple_row


def last_written(conn: psycopg.Connection, *, source_records_sync_time: bool) -> datetime | None:
    """The newest sync time of a customer, subscription or invoice (UTC, aware), or None when empty.

    Where the source records no sync time (Sequin's shape), the newest ``created``
    stands in for it.  Either way one pass over each table, no index needed.
    """
    column = "synced_at" if source_records_sync_time else "created AT TIME ZONE 'UTC'"
    query = (f"SELECT greatest((SELECT max({column}) FROM billing_mirror.customers), "  # noqa: S608 constant
             f"(SELECT max({column}) FROM billing_mirror.subscriptions), "
             f"(SELECT max({column}) FROM billing_mirror.invoices))")
    return conn.cursor(row_factory=tuple_row).execute(query).fetchone()[0]

"""Reading the reports (sql/reporting/): read-only, as the reporting role.

Reports run over REPORTING_DATABASE_URL (a read replica is fine) as the
billing_reporting role, inside a READ ONLY transaction.  A view name or a
filter column from the command line is used only after it has been found in
the database's own catalogue, and only through ``sql.Identifier``; filter
values are always parameters.
"""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import click
import psycopg
from billing_app.billing import settings, state
from billing_app.db import connection_failure
from psycopg import sql


class ReportError(click.ClickException):
    pass


@contextmanager
def reporting_connection() -> Iterator[psycopg.Connection]:
    """A connection in a READ ONLY, REPEATABLE READ transaction, as the reporting role.

    One snapshot for everything read through it (a report, its row count and its
    freshness agree even while a refresh commits); allowed on a read replica.  A
    database error inside becomes a one-line ReportError.
    """
    config = settings()
    try:
        conn = psycopg.connect(state().reporting_database_url(), connect_timeout=10)
    except psycopg.OperationalError as exc:
        setting = "REPORTING_DATABASE_URL" if config["REPORTING_DATABASE_URL"] else "DATABASE_URL"
        raise ReportError(f"cannot connect to {state().setting_prefix}{setting}: {connection_failure(exc)}") from None
    with conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            # one analyst's query at a time: room to hash and sort a million rows in memory
            conn.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
            # the live views are hash joins over a few columns: compiling them costs more than it
            # saves (active_subscriptions at 1M rows, 2.7 s with JIT, 2.3 s without; the rest even)
            conn.execute("SET LOCAL jit = off")
            # a live view hands hundreds of thousands of rows up from its parallel workers: at the
            # planner's default price per row (0.1) it stays on one core, 28% slower at 1M (BENCHMARKS.md)
            conn.execute("SET LOCAL parallel_tuple_cost = 0.01")
            if config["REPORTING_ROLE"]:
                try:
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(config["REPORTING_ROLE"])))
                except psycopg.Error as exc:
                    raise ReportError(f"cannot use the role {config['REPORTING_ROLE']} "
                                      f"({first_line(exc)}): GRANT it to this login, "
                                      "or set REPORTING_ROLE") from None
            try:
                yield conn
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
                raise ReportError(f"{first_line(exc)}: the reporting schema is missing or out of date, "
                                  "run `flask db init`") from None
            except psycopg.Error as exc:
                raise ReportError(f"the database refused the report: {first_line(exc)}") from None


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (psycopg's carry DETAIL and HINT lines after it)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def report_views(conn: psycopg.Connection) -> dict[str, str]:
    """{view name: its COMMENT} for every view in the reporting schema."""
    rows = conn.execute(
        """SELECT c.relname, coalesce(obj_description(c.oid, 'pg_class'), '')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'reporting' AND c.relkind = 'v'
            ORDER BY c.relname""").fetchall()
    return dict(rows)


def parse_filters(filters: tuple[str, ...]) -> list[tuple[str, str]]:
    parsed = []
    for item in filters:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise ReportError(f"--where {item!r}: expected COLUMN=VALUE")
        parsed.append((column.strip(), value))
    return parsed


NUMERIC_TYPES = {"int2", "int4", "int8", "numeric", "float4", "float8"}


def view_columns(conn: psycopg.Connection, schema: str, view: str) -> dict[str, str]:
    """{column: type name} of a view, in order."""
    return dict(conn.execute(
        """SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = (SELECT c.oid FROM pg_class c
                                 WHERE c.relnamespace = %s::regnamespace AND c.relname = %s)
              AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""", (schema, view)).fetchall())


REPORT_WORK_MEM = "64MB"  # per report connection (PostgreSQL's default, 4MB, spills a 1M-row join to disk)


@dataclass(frozen=True)
class ReportQuery:
    """A report's SELECT, its parameters and its columns, built from catalogue names only."""
    name: str
    source: sql.Composable        # the view, filtered: SELECT * FROM ... WHERE ...
    params: list[str]
    columns: dict[str, str]
    order: sql.Composable
    limit: int | None

    @property
    def select(self) -> sql.Composable:
        return self.statement()

    @property
    def count(self) -> sql.Composable:
        """How many rows the report has, whatever the limit: a statement of its own, so that PostgreSQL
        reads only what counting needs (no output columns, no lookups a LEFT JOIN adds) and the page
        sorts only its first rows.  active_subscriptions at 1M: 0.5 s and 0.8 s, where one statement
        with count(*) OVER () took 3.2 s.  Run in the same snapshot as the page (reporting_connection)."""
        return sql.SQL("SELECT count(*) FROM ({}) AS report").format(self.source)

    def statement(self, *, ordered: bool = True) -> sql.Composable:
        """The SELECT: ``ordered`` sorts by the first three columns (unordered, an export of every row
        starts at once)."""
        query = self.source
        if ordered:
            query += self.order
        if self.limit:
            query += sql.SQL(" LIMIT {}").format(sql.Literal(self.limit))
        return query


def report_query(conn: psycopg.Connection, view: str, filters: list[tuple[str, str]], *,
                 live: bool = False, limit: int | None = None) -> ReportQuery:
    """The query for ``view`` filtered by column = value pairs, at most ``limit`` rows.

    ``live`` reads a precomputed report's live definition (reporting_live)
    instead of its rollup.  The view and every column are looked up in the
    catalogue first and then used only as identifiers; values are parameters.
    """
    views = report_views(conn)
    if view not in views:
        raise ReportError(f"unknown report {view!r}; reports: {', '.join(views)}")
    schema = "reporting"
    if live:
        from billing_app.reporting.rollups import rollup_freshness
        precomputed = list(rollup_freshness(conn))
        if view not in precomputed:
            raise ReportError(f"{view} is computed live already; --live is for the precomputed reports: "
                              f"{', '.join(precomputed)}")
        schema = "reporting_live"
    columns = view_columns(conn, schema, view)
    for column, _ in filters:
        if column not in columns:
            raise ReportError(f"unknown column {column!r} for report {view}; columns: {', '.join(columns)}")
    source = sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, view))
    if filters:
        # compared as text, so any column can be filtered with what was typed
        source += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(
            sql.SQL("{}::text = %s").format(sql.Identifier(column)) for column, _ in filters)
    order = sql.SQL(" ORDER BY ") + sql.SQL(", ").join(
        sql.SQL("{} NULLS LAST").format(sql.Identifier(c)) for c in list(columns)[:3])
    return ReportQuery(view, source, [value for _, value in filters], columns, order, limit)


def run_report(conn: psycopg.Connection, view: str, filters: list[tuple[str, str]], *, live: bool = False):
    """(column names, rows as Python values) of a report."""
    query = report_query(conn, view, filters, live=live)
    cursor = conn.execute(query.select, query.params)
    return [d.name for d in cursor.description], cursor.fetchall()


@contextmanager
def copy_csv(conn: psycopg.Connection, query: ReportQuery, *, ordered: bool = True) -> Iterator[Iterator[memoryview]]:
    """The report as CSV with a header, formatted by PostgreSQL and streamed (COPY): a row a piece, as
    psycopg reads it (not copied into bytes: 950,000 rows are a tenth of a second sooner).  Leaving the
    block ends the COPY, however it is left (a reader gone, a full disk, ^C): the transaction around a
    COPY cannot end while the COPY is under way."""
    select = query.statement(ordered=ordered)
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(select)
    with conn.cursor().copy(statement, query.params) as copy:
        yield iter(copy)


def write_table(chunks: Iterator[bytes], types: dict[str, str], out, *, total: int | None = None) -> None:
    """An aligned table: numbers right-aligned, booleans as true/false, NULL as empty.

    ``total``: how many rows the report has (ReportQuery.count), when ``chunks``
    holds only its first ones; the footer then says how to see them all.
    """
    header, *rows = csv.reader(io.StringIO(b"".join(chunks).decode()))
    if total is None:
        total = len(rows)
    kinds = list(types.values())
    for i, kind in enumerate(kinds):
        if kind == "bool":
            for row in rows:
                row[i] = {"t": "true", "f": "false"}.get(row[i], row[i])
    widths = [max([len(name)] + [len(row[i]) for row in rows]) for i, name in enumerate(header)]
    right = [kind in NUMERIC_TYPES for kind in kinds]
    template = "  ".join(f"{{:{'>' if r else '<'}{w}}}" for w, r in zip(widths, right))
    out.write(template.format(*header).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    out.writelines(template.format(*row).rstrip() + "\n" for row in rows)
    if total > len(rows):
        shown = "the first row" if len(rows) == 1 else f"the first {len(rows):,} rows"
        out.write(f"({shown} of {total:,}: --limit N shows N, --limit 0 all of them, --csv streams them all)\n")
    else:
        out.write(f"({total:,} row{'s' if total != 1 else ''})\n")

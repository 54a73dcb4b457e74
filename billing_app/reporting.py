"""`flask report`: the reporting views (sql/reporting/), read-only, for analysts.

Reports run over REPORTING_DATABASE_URL (a read replica is fine) as the
billing_reporting role, inside a READ ONLY transaction.  A view name or a
filter column from the command line is used only after it has been found in
the database's own catalogue, and only through ``sql.Identifier``; filter
values are always parameters.
"""

from __future__ import annotations

import csv
import io
import sys
from contextlib import contextmanager
from typing import Iterator

import click
import psycopg
from flask import current_app
from flask.cli import AppGroup
from psycopg import sql

report_cli = AppGroup("report", help="Read-only business reports over the mirror.")


class ReportError(click.ClickException):
    pass


@contextmanager
def reporting_connection() -> Iterator[psycopg.Connection]:
    """A connection in a READ ONLY transaction, as the reporting role."""
    config = current_app.config
    try:
        conn = psycopg.connect(config["REPORTING_DATABASE_URL"], connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise ReportError(f"cannot connect to REPORTING_DATABASE_URL: {str(exc).strip().splitlines()[-1]}") from None
    with conn:
        conn.read_only = True
        with conn.transaction():
            if config["REPORTING_ROLE"]:
                try:
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(config["REPORTING_ROLE"])))
                except psycopg.Error as exc:
                    raise ReportError(f"cannot use the role {config['REPORTING_ROLE']} "
                                      f"({str(exc).splitlines()[0]}): GRANT it to this login, "
                                      "or set REPORTING_ROLE") from None
            yield conn


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


def view_columns(conn: psycopg.Connection, view: str) -> dict[str, str]:
    """{column: type name} of a reporting view, in order."""
    return dict(conn.execute(
        """SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
        (f"reporting.{view}",)).fetchall())


def report_query(conn: psycopg.Connection, view: str, filters: list[tuple[str, str]]):
    """(query, params, {column: type}) for ``view`` filtered by column = value pairs.

    The view and every column are looked up in the catalogue first and then
    used only as identifiers; values are parameters.
    """
    views = report_views(conn)
    if view not in views:
        raise ReportError(f"unknown report {view!r}; reports: {', '.join(views)}")
    columns = view_columns(conn, view)
    for column, _ in filters:
        if column not in columns:
            raise ReportError(f"unknown column {column!r} for report {view}; columns: {', '.join(columns)}")
    query = sql.SQL("SELECT * FROM {}").format(sql.Identifier("reporting", view))
    if filters:
        # compared as text, so any column can be filtered with what was typed
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(
            sql.SQL("{}::text = %s").format(sql.Identifier(column)) for column, _ in filters)
    order = list(columns)[:3]
    query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(
        sql.SQL("{} NULLS LAST").format(sql.Identifier(c)) for c in order)
    return query, [value for _, value in filters], columns


def run_report(conn: psycopg.Connection, view: str, filters: list[tuple[str, str]]):
    """(column names, rows as Python values) of a report."""
    query, params, _ = report_query(conn, view, filters)
    cursor = conn.execute(query, params)
    return [d.name for d in cursor.description], cursor.fetchall()


def copy_csv(conn: psycopg.Connection, query, params) -> Iterator[bytes]:
    """The report as CSV with a header, formatted by PostgreSQL and streamed (COPY)."""
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)
    with conn.cursor().copy(statement, params) as copy:
        for data in copy:
            yield bytes(data)


def write_table(chunks: Iterator[bytes], types: dict[str, str], out) -> None:
    """An aligned table: numbers right-aligned, booleans as true/false, NULL as empty."""
    header, *rows = csv.reader(io.StringIO(b"".join(chunks).decode()))
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
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


@report_cli.command("list")
def list_command() -> None:
    """Each report with what a row is and how money is counted."""
    with reporting_connection() as conn:
        for name, comment in report_views(conn).items():
            click.echo(f"{name}\n    {comment}\n")


@report_cli.command("show")
@click.argument("name")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout instead of a table.")
@click.option("--where", "filters", multiple=True, metavar="COLUMN=VALUE",
              help="Keep rows whose COLUMN equals VALUE (as text); repeat to combine.")
def show_command(name: str, as_csv: bool, filters: tuple[str, ...]) -> None:
    """Print the report NAME (see `flask report list`)."""
    parsed = parse_filters(filters)
    with reporting_connection() as conn:
        query, params, types = report_query(conn, name, parsed)
        chunks = copy_csv(conn, query, params)
        if as_csv:
            sys.stdout.flush()
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            write_table(chunks, types, sys.stdout)

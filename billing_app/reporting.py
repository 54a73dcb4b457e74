"""`flask report`: the reporting views (sql/reporting/), read-only, for analysts.

Reports run over REPORTING_DATABASE_URL (a read replica is fine) as the
billing_reporting role, inside a READ ONLY transaction.  A view name or a
filter column from the command line is used only after it has been found in
the database's own catalogue, and only through ``sql.Identifier``; filter
values are always parameters.
"""

from __future__ import annotations

import csv
import sys
from contextlib import contextmanager
from decimal import Decimal
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


def view_columns(conn: psycopg.Connection, view: str) -> list[str]:
    return [row[0] for row in conn.execute(
        """SELECT attname FROM pg_attribute
            WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
        (f"reporting.{view}",))]


def parse_filters(filters: tuple[str, ...]) -> list[tuple[str, str]]:
    parsed = []
    for item in filters:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise ReportError(f"--where {item!r}: expected COLUMN=VALUE")
        parsed.append((column.strip(), value))
    return parsed


def run_report(conn: psycopg.Connection, view: str, filters: list[tuple[str, str]]):
    """(columns, rows) of ``view`` filtered by column = value pairs; names checked against the catalogue."""
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
    query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(
        sql.SQL("{} NULLS LAST").format(sql.Identifier(c)) for c in columns[: min(3, len(columns))])
    cursor = conn.execute(query, [value for _, value in filters])
    return [d.name for d in cursor.description], cursor.fetchall()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def print_table(columns: list[str], rows: list[tuple]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(r[i], (int, float, Decimal)) or r[i] is None for r in rows)
               for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    click.echo(line(columns))
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo(line(row))
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


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
        columns, rows = run_report(conn, name, parsed)
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)
    else:
        print_table(columns, rows)

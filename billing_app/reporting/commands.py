"""`flask report`: list, show and refresh the reports (sql/reporting/)."""

from __future__ import annotations

import sys

import click
import psycopg
from flask import current_app
from flask.cli import AppGroup

from billing_app.reporting.reports import (ReportError, copy_csv, parse_filters, report_query, report_views,
                                           reporting_connection, write_table)
from billing_app.reporting.rollups import RefreshBusy, refresh_rollups, rollup_freshness

report_cli = AppGroup("report", help="Business reports over the mirror, for analysts (read-only).")

TABLE_ROWS = 100  # rows a table shows unless --limit says otherwise


@report_cli.command("list")
def list_command() -> None:
    """Each report with what a row is and how money is counted; how fresh the precomputed ones are."""
    with reporting_connection() as conn:
        freshness = rollup_freshness(conn)
        for name, comment in report_views(conn).items():
            click.echo(f"{name}\n    {comment}")
            if name in freshness:
                click.echo(f"    {freshness[name].words()}")
            click.echo()


@report_cli.command("show")
@click.argument("name")
@click.option("--csv", "as_csv", is_flag=True, help="All rows as CSV on stdout, streamed, instead of a table.")
@click.option("--where", "filters", multiple=True, metavar="COLUMN=VALUE",
              help="Keep rows whose COLUMN equals VALUE (as text); repeat to combine.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help=f"At most this many rows; 0 for all. A table shows {TABLE_ROWS} unless told, CSV all.")
@click.option("--live", is_flag=True,
              help="Compute a precomputed report now from the mirror instead of reading its last refresh "
                   "(slow on a large mirror).")
def show_command(name: str, as_csv: bool, filters: tuple[str, ...], limit: int | None, live: bool) -> None:
    """Print the report NAME (see `flask report list`)."""
    parsed = parse_filters(filters)
    if limit is None:
        limit = 0 if as_csv else TABLE_ROWS
    with reporting_connection() as conn:
        # a table asks for one row more than it shows, to know whether there are more
        fetch = limit if as_csv or not limit else limit + 1
        query = report_query(conn, name, parsed, live=live, limit=fetch or None)
        freshness = None if live else rollup_freshness(conn).get(name)
        chunks = copy_csv(conn, query)
        if as_csv:
            sys.stdout.flush()
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            write_table(chunks, query.columns, sys.stdout, limit=limit, count=lambda: query.count(conn))
    if freshness is not None:
        # after a table; on stderr beside CSV, so that stdout stays CSV
        click.echo(f"{name}: precomputed, {freshness.words()}; --live computes it now", err=as_csv)


@report_cli.command("refresh")
@click.option("--wait", is_flag=True, help="If another refresh is running, wait for it, then refresh.")
def refresh_command(wait: bool) -> None:
    """Recompute the precomputed reports from the mirror (on the primary, as the schema's owner).

    All of them come from one moment of the mirror and appear at once; readers
    never wait and never see half a refresh. Safe from cron or a systemd timer:
    when another refresh is running this one does nothing and exits 0 (or, with
    --wait, waits for it).
    """
    try:
        done = refresh_rollups(current_app.config["DATABASE_URL"], wait=wait)
    except RefreshBusy as exc:
        click.echo(str(exc))
        return
    except psycopg.OperationalError as exc:
        raise ReportError(f"cannot connect to DATABASE_URL: {str(exc).strip().splitlines()[-1]}") from None
    except psycopg.Error as exc:
        raise ReportError(f"refresh failed, nothing was changed: {str(exc).strip().splitlines()[0]}") from None
    for item in done:
        click.echo(f"refreshed {item.rollup}: {item.rows:,} row{'' if item.rows == 1 else 's'} "
                   f"in {item.seconds:.2f} s")
    click.echo(f"{len(done)} reports refreshed in {sum(item.seconds for item in done):.2f} s")

"""`flask report`: list, show and refresh the reports (sql/reporting/)."""

from __future__ import annotations

import os
import sys

import click
import psycopg
from billing_app.billing import settings, state
from flask.cli import AppGroup

from billing_app.reporting.reports import (ReportError, copy_csv, first_line, parse_filters, report_query,
                                           report_views, reporting_connection, write_table)
from billing_app.reporting.rollups import RefreshBusy, RefreshError, refresh_rollups, rollup_freshness

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
@click.option("--csv", "as_csv", is_flag=True,
              help="All rows as CSV on stdout, streamed as PostgreSQL produces them (unsorted), instead of a table.")
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
        freshness = None if live else rollup_freshness(conn).get(name)
        query = report_query(conn, name, parsed, live=live, limit=limit or None)
        if as_csv:
            with copy_csv(conn, query, ordered=False) as chunks:
                stream_csv(chunks)
        else:
            total = conn.execute(query.count, query.params).fetchone()[0] if limit else None
            with copy_csv(conn, query) as chunks:
                write_table(chunks, query.columns, sys.stdout, total=total)
    if freshness is not None:
        # after a table; on stderr beside CSV, so that stdout stays CSV
        click.echo(f"{name}: precomputed, {freshness.words()}; --live computes it now", err=as_csv)


CSV_BUFFER = 1 << 20  # bytes written to stdout at a time (sys.stdout's 8 kB buffer: a write call every 50 rows)


def stream_csv(chunks) -> None:
    """COPY's output to stdout as it comes; a reader that stops early (`| head`) ends it quietly."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        # a terminal sees rows as they come; a file or a pipe gets them a megabyte at a time
        out = sys.stdout.buffer if os.isatty(fd) else open(fd, "wb", buffering=CSV_BUFFER, closefd=False)
    except (AttributeError, OSError, ValueError):  # not a file (a test's runner): its own buffer
        fd, out = None, sys.stdout.buffer
    try:
        for chunk in chunks:
            out.write(chunk)
        out.flush()
    except OSError as exc:  # a reader gone (`| head`), a full disk
        if fd is not None:  # as the Python docs advise: no second error when stdout is flushed at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        if isinstance(exc, BrokenPipeError):
            raise SystemExit(1) from None
        raise click.ClickException(f"cannot write the report to stdout: {exc.strerror or exc}") from None


@report_cli.command("refresh")
@click.option("--wait", is_flag=True, help="If another refresh is running, wait for it, then refresh.")
def refresh_command(wait: bool) -> None:
    """Recompute the precomputed reports from the mirror (on the primary: DATABASE_URL, as REFRESH_ROLE).

    All of them come from one moment of the mirror and appear at once; readers
    never wait and never see half a refresh. Safe from cron or a systemd timer:
    when another refresh is running this one does nothing and exits 0 (or, with
    --wait, waits for it).
    """
    config = settings()
    try:
        done = refresh_rollups(state().database_url(), role=config["REFRESH_ROLE"], wait=wait)
    except RefreshBusy as exc:
        click.echo(str(exc), err=True)
        return
    except RefreshError as exc:
        raise ReportError(str(exc)) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ReportError(f"refresh refused, nothing was changed: {first_line(exc)}: "
                          f"GRANT {config['REFRESH_ROLE'] or 'billing_refresh'} to this login "
                          "(README, Reporting), or run `flask db init`") from None
    except psycopg.Error as exc:
        raise ReportError(f"refresh failed, nothing was changed: {first_line(exc)}") from None
    for item in done:
        click.echo(f"refreshed {item.rollup}: {item.rows:,} row{'' if item.rows == 1 else 's'} "
                   f"in {item.seconds:.2f} s")
    click.echo(f"{len(done)} reports refreshed in {sum(item.seconds for item in done):.2f} s")

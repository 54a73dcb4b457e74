"""Applies the plain SQL files in ``sql/`` in their fixed order: ``flask db init``.

Order: the numbered files at the top of ``sql/`` by name, then the numbered
files of each sub-folder (``sql/reporting/``) by name.  ``010_stripe_mirror.sql``
creates the mirror tables and runs only when asked (``--mirror``): in production
the sync service owns them.  Every file is idempotent, and all files are applied
in one transaction under an advisory lock, so a failed run leaves nothing
half-written and two processes never apply them at once.
"""

from __future__ import annotations

from pathlib import Path

import click
import psycopg
from flask import current_app
from flask.cli import AppGroup

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
MIRROR_FILE = "010_stripe_mirror.sql"
_LOCK_KEY = 727_115_001  # any constant: serialises concurrent schema runs


class SchemaError(RuntimeError):
    """A schema file could not be applied; the message names the file and the fix."""


def schema_files(with_mirror: bool) -> list[Path]:
    files = sorted(SQL_DIR.glob("[0-9]*.sql"))
    for folder in sorted(p for p in SQL_DIR.iterdir() if p.is_dir()):
        files.extend(sorted(folder.glob("[0-9]*.sql")))
    return [f for f in files if with_mirror or f.name != MIRROR_FILE]


def apply_schema(conninfo: str, *, with_mirror: bool) -> list[str]:
    """Apply the schema files; return the names of the files applied."""
    applied = []
    try:
        with psycopg.connect(conninfo) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            if not with_mirror:
                has_mirror = conn.execute("SELECT to_regclass('stripe.customer') IS NOT NULL").fetchone()[0]
                if not has_mirror:
                    raise SchemaError(
                        'the mirror tables (schema "stripe") are not in this database: '
                        "start the sync service first, or for a local database run `flask db init --mirror`"
                    )
            for path in schema_files(with_mirror):
                try:
                    conn.execute(path.read_text())
                except psycopg.Error as exc:
                    message = str(exc).splitlines()[0]
                    raise SchemaError(
                        f"{path.relative_to(SQL_DIR.parent)} failed: {message}; nothing was changed"
                    ) from None
                applied.append(path.name)
    except psycopg.OperationalError as exc:
        raise SchemaError(f"cannot connect to the database: {str(exc).splitlines()[0]}") from None
    return applied


db_cli = AppGroup("db", help="Create and inspect the database schema.")


@db_cli.command("init")
@click.option("--mirror", is_flag=True,
              help="Also create the stripe.* mirror tables (local runs and tests; "
                   "in production the sync service owns them).")
def init_command(mirror: bool) -> None:
    """Apply sql/ in order. Safe to run again: it changes nothing the second time."""
    try:
        applied = apply_schema(current_app.config["DATABASE_URL"], with_mirror=mirror)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    for name in applied:
        click.echo(f"applied {name}")
    click.echo("database schema is up to date")

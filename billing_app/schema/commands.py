"""`flask db init` and `flask db upgrade`: the schema of sql/, applied by billing_app/schema."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from billing_app.billing import settings, state
from billing_app.schema import SchemaError, apply_schema

db_cli = AppGroup("db", help="Create and inspect the database schema.")


@db_cli.command("init")
@click.option("--mirror", is_flag=True,
              help="Also create Sequin-shape stripe.* mirror tables when the database has none "
                   "(local runs and tests; in production the sync service owns them).")
def init_command(mirror: bool) -> None:
    """Apply sql/ in order for the mirror found, then refresh the precomputed reports. Safe to run again."""
    _bring_up_to_date(mirror)


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """After installing a new version: apply the updates in sql/updates/ this database has not had (each
    once, in date order), make every view again, refresh the reports; all in one transaction."""
    _bring_up_to_date(mirror=False, upgrade=True)


def _bring_up_to_date(mirror: bool, *, upgrade: bool = False) -> None:
    try:
        result = apply_schema(state().database_url(), with_mirror=mirror, source=settings()["STRIPE_MIRROR"],
                              user_key=settings()["STRIPE_CUSTOMER_USER_KEY"])
    except SchemaError as exc:
        for note in exc.notes:
            click.echo(f"note: {note}")
        raise click.ClickException(str(exc)) from None
    click.echo(f"mirror source: {result.source}")
    for name in result.applied:
        click.echo(f"applied {name}")
    if upgrade and not any(name.startswith("updates/") for name in result.applied):
        click.echo("no schema updates were pending: every file of sql/updates/ had been applied before")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo("database schema is up to date")
    seconds = sum(item.seconds for item in result.refreshed)
    click.echo(f"refreshed the {len(result.refreshed)} precomputed reports in {seconds:.2f} s")

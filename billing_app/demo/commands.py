"""`flask demo`: billing_app/demo's users and mirror rows, and ``--customers N`` generated ones."""

from __future__ import annotations

import click
import psycopg
from flask.cli import with_appcontext

from billing_app.billing import settings, state
from billing_app.demo import DEMO_PASSWORD, DemoError, load_demo


@click.command("demo")
@with_appcontext
@click.option("--customers", type=click.IntRange(min=0), default=0,
              help="Also generate this many customers (COPY-based, with a progress bar).")
def demo_command(customers: int) -> None:
    """Load demo users and a demo Stripe mirror (local databases only)."""
    from billing_app.demo.volume import load_volume
    from billing_app.reporting.rollups import RefreshError, refresh_rollups

    conninfo = state().database_url()
    try:
        source = settings()["STRIPE_MIRROR"]
        accounts = load_demo(conninfo, source)
        if customers:
            with click.progressbar(length=customers, label=f"Loading {customers} customers") as bar:
                load_volume(conninfo, customers, progress=bar.update, source=source)
        refresh_rollups(conninfo, wait=True)  # the reports show the demo at once
    except psycopg.errors.UndefinedTable:
        raise DemoError("the database has no schema: run `flask db init --mirror`") from None
    except psycopg.OperationalError as exc:
        raise DemoError(f"cannot reach the database: {str(exc).splitlines()[0]}") from None
    except RefreshError as exc:
        raise DemoError(f"demo data loaded, but the precomputed reports were not refreshed: {exc}") from None
    if state().auth_mode != "accounts":
        # the demo customers belong to demo rows of the built-in accounts; other users cannot sign in as them
        click.echo(f"Demo data loaded. With AUTH_MODE={state().auth_mode} its customers belong to built-in "
                   "accounts nobody can sign in as here; the reports, doctor and pricing page show them.")
        return
    click.echo(f"Demo data loaded. Sign in at {settings()['SITE_URL']}/login "
               f"with password {DEMO_PASSWORD!r} as:")
    for account in accounts:
        click.echo(f"  {account.email:<22} {account.story}")

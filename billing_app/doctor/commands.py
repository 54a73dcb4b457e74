"""`flask billing doctor`: every check of billing_app/doctor, one line each; exit 1 on any FAIL."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from billing_app.billing import settings, state
from billing_app.config import prefixed
from billing_app.doctor import (check_database, check_mail, check_public_details, check_reports, check_sign_in,
                                check_site_url, check_stripe)

billing_cli = AppGroup("billing", help="Check the billing set-up.")


@billing_cli.command("doctor")
@click.option("--max-age", type=click.FloatRange(min=0.1), default=48.0, show_default=True,
              help="Hours after which the newest mirrored row counts as stale.")
def doctor_command(max_age: float) -> None:
    """Check Stripe, the portal configuration, SITE_URL, the mirror and the reports; exit 1 on any FAIL."""
    config = settings()
    checks = [*check_stripe(config), check_site_url(config), check_public_details(config), check_sign_in(),
              *filter(None, [check_mail(config)]),
              *check_database(timedelta(hours=max_age)),
              check_reports(timedelta(minutes=config["REPORT_MAX_AGE_MINUTES"]))]
    for check in checks:
        click.echo(prefixed(check.line(), state().setting_prefix))
    failed = sum(not c.ok for c in checks)
    if failed:
        click.echo(f"{failed} check(s) failed")
        raise SystemExit(1)
    click.echo("all checks passed")

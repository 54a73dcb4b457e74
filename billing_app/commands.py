"""What the `flask` commands share: the settings check each one runs first, and the
``flask billing ...`` group a host app gets when it mounts billing_app."""

from __future__ import annotations

import click

from billing_app.billing import state
from billing_app.config import ConfigError, require


def require_settings(*names: str) -> None:
    """Stop the command, naming every one of ``names`` that is not set (and what to set it to)."""
    billing = state()
    try:
        require(billing.settings, *names, prefix=billing.setting_prefix)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def host_cli_group() -> click.Group:
    """`flask billing db|portal|report|doctor|demo` for a host app (its own `flask db` stays its own)."""
    from flask.cli import AppGroup

    from billing_app.demo import demo_command
    from billing_app.doctor import doctor_command
    from billing_app.portal.commands import portal_cli
    from billing_app.reporting.commands import report_cli
    from billing_app.schema import db_cli

    group = AppGroup("billing", help="billing_app: schema, portal, reports, doctor and demo data.")
    for command in (db_cli, portal_cli, report_cli, doctor_command, demo_command):
        group.add_command(command)
    return group

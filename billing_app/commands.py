"""Where the `flask` commands are registered, and what they share.

Each command lives beside the code it drives, in that package's ``commands.py``
(``schema/commands.py``: `flask db`; ``portal/commands.py``: `flask portal`;
``reporting/commands.py``: `flask report`; ``auth/commands.py``: `flask users`;
``doctor/commands.py``: `flask billing doctor`; ``demo/commands.py``: `flask demo`).
billing_app's own app gets them all (``register_commands``); a host app that mounts
billing_app gets them under `flask billing ...` (``host_cli_group``), so its own
`flask db` stays its own.  Each command checks the settings it needs first
(``require_settings``).
"""

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


def register_commands(app) -> None:
    """billing_app's own app: `flask db`, `flask portal`, `flask report`, `flask users`, `flask billing
    doctor` and `flask demo`."""
    from billing_app.auth.commands import users_cli
    from billing_app.demo.commands import demo_command
    from billing_app.doctor.commands import billing_cli
    from billing_app.portal.commands import portal_cli
    from billing_app.reporting.commands import report_cli
    from billing_app.schema.commands import db_cli

    for command in (db_cli, portal_cli, billing_cli, report_cli, users_cli, demo_command):
        app.cli.add_command(command)


def host_cli_group() -> click.Group:
    """`flask billing db|portal|report|doctor|demo` for a host app (its own `flask db` stays its own)."""
    from flask.cli import AppGroup

    from billing_app.demo.commands import demo_command
    from billing_app.doctor.commands import doctor_command
    from billing_app.portal.commands import portal_cli
    from billing_app.reporting.commands import report_cli
    from billing_app.schema.commands import db_cli

    group = AppGroup("billing", help="billing_app: schema, portal, reports, doctor and demo data.")
    for command in (db_cli, portal_cli, report_cli, doctor_command, demo_command):
        group.add_command(command)
    return group

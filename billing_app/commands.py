"""Where the `flask` commands are registered, and what they share.

Each command lives beside the code it drives, in that package's ``commands.py``
(``schema/commands.py``: `flask db`; ``portal/commands.py``: `flask portal`;
``reporting/commands.py``: `flask report`; ``auth/commands.py``: `flask users`;
``doctor/commands.py``: `flask billing doctor`; ``demo/commands.py``: `flask demo`).
billing_app's own app gets them all (``register_commands``), each imported when
it runs, in an app made without its pages (``create_app``); a host app that mounts
billing_app gets them under `flask billing ...` (``host_cli_group``), so its own
`flask db` stays its own.  Each command checks the settings it needs first
(``require_settings``).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from billing_app.billing import state
from billing_app.config import ConfigError, require


def require_settings(*names: str) -> None:
    """Stop the command, naming every one of ``names`` that is not set (and what to set it to)."""
    billing = state()
    try:
        require(billing.settings, *names, prefix=billing.setting_prefix)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


# billing_app's own commands: name -> (module, attribute), imported when the command runs
OWN_COMMANDS = {
    "db": ("billing_app.schema.commands", "db_cli"),
    "portal": ("billing_app.portal.commands", "portal_cli"),
    "billing": ("billing_app.doctor.commands", "billing_cli"),
    "report": ("billing_app.reporting.commands", "report_cli"),
    "users": ("billing_app.auth.commands", "users_cli"),
    "demo": ("billing_app.demo.commands", "demo_command"),
}


class CommandsOnDemand(AppGroup):
    """The app's `flask` commands, each imported when it is run (or listed by `--help`): `flask report`
    does not import the demo loader, the doctor or the sign-in pages' code."""

    def __init__(self, name: str | None, on_demand: dict[str, tuple[str, str]]) -> None:
        super().__init__(name)
        self.on_demand = on_demand

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.on_demand})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.on_demand and name not in self.commands:
            module, attribute = self.on_demand[name]
            # __import__, as an import statement does: `python -X importtime` shows it (import_module is not timed)
            self.add_command(getattr(__import__(module, fromlist=[attribute]), attribute), name)
        return super().get_command(ctx, name)


def register_commands(app) -> None:
    """billing_app's own app: `flask db`, `flask portal`, `flask report`, `flask users`, `flask billing
    doctor` and `flask demo`, each imported when it runs (commands registered before are kept).

    The app made for a command has no blueprints (``create_app``): a command belongs here, not on a
    blueprint's ``cli``, or `flask` would not find it."""
    commands = CommandsOnDemand(app.cli.name, OWN_COMMANDS)
    for name, command in app.cli.commands.items():
        commands.add_command(command, name)
    app.cli = commands


def host_cli_group() -> click.Group:
    """`flask billing db|portal|report|doctor|demo` for a host app (its own `flask db` stays its own)."""
    from billing_app.demo.commands import demo_command
    from billing_app.doctor.commands import doctor_command
    from billing_app.portal.commands import portal_cli
    from billing_app.reporting.commands import report_cli
    from billing_app.schema.commands import db_cli

    group = AppGroup("billing", help="billing_app: schema, portal, reports, doctor and demo data.")
    for command in (db_cli, portal_cli, report_cli, doctor_command, demo_command):
        group.add_command(command)
    return group

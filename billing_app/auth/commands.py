"""`flask users ...`: account administration for operators."""

import click
from flask.cli import AppGroup

from billing_app.auth.users import SignupError, create_user, normalize_email
from billing_app.billing import state
from billing_app.db import DatabaseUnavailable, database

users_cli = AppGroup("users", help="Manage the app's user accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--password", help="The password (prompted for when not given).")
def create_command(email: str, password: str | None) -> None:
    """Create a user who can sign in with EMAIL."""
    if state().auth_mode != "accounts":
        raise click.ClickException(f"built-in accounts are off (AUTH_MODE={state().auth_mode}): users sign in "
                                   "with the identity provider or the host app")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with database().connection() as conn:
            user = create_user(conn, email, password)
    except SignupError as exc:
        if exc.status == 409:  # the form's "Sign in instead" is for the account's owner, not the operator
            raise click.ClickException(f"an account with {normalize_email(email)} already exists; "
                                       "nothing was changed") from None
        raise click.ClickException(str(exc)) from None
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"the database is not available ({exc}); check DATABASE_URL "
                                   "and run `flask db init`") from None
    click.echo(f"created user {user.id} <{user.email}>")

"""`flask portal configure`: the Customer Portal set up from portal.toml."""

from __future__ import annotations

import json
from pathlib import Path

import click
from billing_app.billing import settings, state
from flask.cli import AppGroup

from billing_app.commands import require_settings
from billing_app.db import DatabaseUnavailable, database
from billing_app.errors import BillingError, operator_text
from billing_app.mirror.catalogue import active_recurring_prices
from billing_app.portal.configuration import (
    LEGAL_LINKS,
    MANAGED_BY,
    PortalConfigError,
    default_portal_file,
    links_to_clear,
    missing_legal_links,
    own_legal_pages_at,
    portal_configuration_params,
    read_portal_file,
)
from billing_app.stripe_client import StripeApi, key_mode, new_idempotency_key, stripe_api

portal_cli = AppGroup("portal", help="Set up Stripe's Customer Portal.")


def find_managed_configuration(stripe: StripeApi):
    """The configuration this command created before (found by its metadata), or None."""
    listing = stripe.call(lambda client: client.v1.billing_portal.configurations.list(params={"limit": 100}))
    for configuration in listing.auto_paging_iter():
        metadata = configuration.to_dict().get("metadata") or {}
        if metadata.get("managed_by") == MANAGED_BY["managed_by"]:
            return configuration
    return None


@portal_cli.command("configure")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The portal description. Default: ./portal.toml, else the example billing_app ships.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent to Stripe; send nothing.")
def configure_command(path: Path, dry_run: bool) -> None:
    """Create or update the portal configuration and print its bpc_ id."""
    require_settings("SITE_URL", *(() if dry_run else ("STRIPE_SECRET_KEY",)))
    path = path or default_portal_file()
    try:
        raw = read_portal_file(path)
        with database().connection() as conn:
            catalog = active_recurring_prices(conn)
        params = portal_configuration_params(raw, settings()["SITE_URL"], catalog,
                                             billing_url=settings()["SITE_URL"] + state().url_prefix,
                                             terms_url=settings()["TERMS_URL"], privacy_url=settings()["PRIVACY_URL"],
                                             own_legal_pages=state().standalone)
    except PortalConfigError as exc:
        raise click.ClickException(f"portal settings refused, nothing sent to Stripe: {path.name}: {exc}") from None
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"cannot read the plans from the mirror: {exc}") from None
    missing = missing_legal_links(params)
    if missing:  # mounted in a host: billing_app has no /terms or /privacy of its own there
        click.echo(f"note: no {' or '.join(LEGAL_LINKS[name][1] for name in missing)} link is sent to Stripe "
                   f"(mounted, billing_app has no such page of its own): set "
                   f"{' and '.join(state().setting_prefix + LEGAL_LINKS[name][0] for name in missing)}, or "
                   f"business_profile's URLs in {path.name}", err=True)
    if dry_run:
        click.echo(json.dumps(params, indent=2))
        own = own_legal_pages_at(settings()["SITE_URL"])
        for name in missing:
            click.echo(f"note: an update also removes the portal's {LEGAL_LINKS[name][1]} link if it is "
                       f"{own[name]}, which earlier releases sent", err=True)
        click.echo("dry run: nothing was sent to Stripe", err=True)  # stdout: the parameters alone
        return
    removed: dict[str, str] = {}
    try:
        stripe = stripe_api()
        existing = find_managed_configuration(stripe)
        options = {"idempotency_key": new_idempotency_key()}
        if existing is None:
            result = stripe.call(lambda client: client.v1.billing_portal.configurations.create(
                params=params, options=options))
            verb = "created"
        else:
            removed = links_to_clear(params, existing.to_dict(), settings()["SITE_URL"])
            update = {**params, "active": True,
                      "business_profile": {**params["business_profile"], **dict.fromkeys(removed, "")}}
            result = stripe.call(lambda client: client.v1.billing_portal.configurations.update(
                existing.id, params=update, options=options))
            verb = "updated"
    except BillingError as exc:
        raise click.ClickException(operator_text(exc)) from None
    mode = key_mode(settings()["STRIPE_SECRET_KEY"])
    click.echo(f"{verb} portal configuration {result.id} ({mode} mode)")
    for name, url in removed.items():
        click.echo(f"removed the portal's {LEGAL_LINKS[name][1]} link to {url}: an earlier release sent it, and "
                   f"billing_app serves no such page when mounted")
    if settings()["STRIPE_PORTAL_CONFIGURATION"] != result.id:
        click.echo(f"set STRIPE_PORTAL_CONFIGURATION={result.id}")

"""billing_app as a Flask extension: ``Billing(app)`` or ``Billing().init_app(app)``.

The standalone app (``create_app``) is one host of it; a SaaS team's own Flask
app is another.  ``init_app`` reads the settings (a host's come from its config
or the environment, each name with a ``BILLING_`` prefix), makes the database
pool and the Stripe client, and registers the billing pages and JSON API under
``URL_PREFIX`` (default ``/billing`` when mounted).  It leaves the host's
settings, session, error handlers and CSRF alone: billing's error answers and
CSRF check are scoped to billing's own blueprint.
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any, Mapping

from flask import Flask, current_app, redirect, url_for
from flask.helpers import get_debug_flag

from billing_app.config import ConfigError, auth_problems, load_settings, missing, prefixed

HOST_PREFIX = "BILLING_"


@dataclass
class BillingState:
    """What billing_app keeps per app, in ``app.extensions["billing"]``."""

    settings: dict[str, Any]
    standalone: bool
    instance_path: str
    url_prefix: str = ""
    setting_prefix: str = ""  # BILLING_ when mounted: the names settings are known by in messages
    verifier: Any = None  # identity.tokens.TokenVerifier in jwt mode
    csp: str | None = None  # the Content-Security-Policy header, worked out on first use
    links: dict[str, dict[str, str | None]] = field(default_factory=dict)  # blueprint.SiteLinks, per script root
    headers: list[tuple[str, str]] | None = None  # blueprint.default_headers, on first use
    _database_url: str | None = field(default=None, repr=False)

    @property
    def auth_mode(self) -> str:
        return self.settings["AUTH_MODE"]

    def database_url(self) -> str:
        """DATABASE_URL, or the embedded PostgreSQL (started on first need) when it is unset."""
        if self.settings["DATABASE_URL"]:
            return self.settings["DATABASE_URL"]
        if self._database_url is None:
            self._database_url = start_embedded_database(self.instance_path, self.settings)
        return self._database_url

    def reporting_database_url(self) -> str:
        return self.settings["REPORTING_DATABASE_URL"] or self.database_url()


class StartupError(RuntimeError):
    """The app cannot start; the message names the cause and the fix."""


def start_embedded_database(instance_path: str, settings: Mapping[str, Any]) -> str:
    """No DATABASE_URL: run PostgreSQL inside the instance folder, with the full schema."""
    from billing_app.embedded import EmbeddedDatabaseError, start_embedded_postgres
    from billing_app.schema import SchemaError, apply_schema

    try:
        url = start_embedded_postgres(instance_path)
        apply_schema(url, with_mirror=True, source=settings["STRIPE_MIRROR"],
                     user_key=settings["STRIPE_CUSTOMER_USER_KEY"])
    except (EmbeddedDatabaseError, SchemaError) as exc:
        raise StartupError(f"embedded database: {exc}") from None
    return url


def _flask_command():
    """The click context of the `flask` command (whatever it runs), or None: another click program
    (uvicorn, a worker, a team's own script) that builds the app is not one of billing_app's commands."""
    import click
    from flask.cli import ScriptInfo
    ctx = click.get_current_context(silent=True)
    return ctx if ctx is not None and ctx.find_object(ScriptInfo) is not None else None


def in_command() -> bool:
    """Is the app being made by the `flask` command for a command line tool other than a server
    (`flask report`, `flask db`...), which sets up only what it uses?  `flask run` serves: it gets every
    start-up check, as does an app made by any other program."""
    ctx = _flask_command()
    return ctx is not None and ctx.command.name != "run"


def loaded_for_commands() -> bool:
    """Is the `flask` command loading the app to find one of its own commands (`flask report show`,
    `flask db init`, `flask --help`)?  Those serve no page, so the app is made without its pages and
    what requests need.  `flask run`, `flask shell` and `flask routes` load it inside their own command
    and get all of it."""
    from flask.cli import FlaskGroup
    ctx = _flask_command()
    return ctx is not None and isinstance(ctx.command, FlaskGroup)


def serving(app: Flask) -> bool:
    """Is ``app`` being made to serve requests in production (not a `flask` command, debug or tests)?"""
    return not (app.testing or app.debug or get_debug_flag() or in_command())


def state(app: Flask | None = None) -> BillingState:
    return (app or current_app).extensions["billing"]


def settings() -> Mapping[str, Any]:
    """The current app's billing settings (parsed, see config.SETTINGS)."""
    return current_app.extensions["billing"].settings


def host_settings(app: Flask) -> dict[str, Any]:
    """A host app's billing settings: BILLING_<NAME> from its config, else from the environment."""
    relaxed = bool(app.debug or app.testing or get_debug_flag())
    return load_settings(ChainMap(app.config, os.environ), relaxed=relaxed, prefix=HOST_PREFIX)


class Billing:
    """Self-service Stripe billing pages and API for a Flask app (see the module docstring)."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, settings: dict[str, Any] | None = None,
                 standalone: bool = False, pages: bool = True) -> BillingState:
        """Set billing_app up on ``app``; raises ConfigError naming every setting to fix.

        ``settings``, ``standalone`` and ``pages`` are for ``create_app`` (billing_app's own app): parsed
        settings without a prefix, pages at the root (none at all for a `flask` command), built-in
        accounts by default.  The state is kept per app (one Billing() may serve several apps), in
        app.extensions["billing"].
        """
        prefix = "" if standalone else HOST_PREFIX
        config = dict(settings if settings is not None else host_settings(app))
        problems = []
        if config["AUTH_MODE"] is None:
            config["AUTH_MODE"] = "accounts" if standalone else "host"
        if config["URL_PREFIX"] is None:
            config["URL_PREFIX"] = "" if standalone else "/billing"
        if not standalone:
            if config["AUTH_MODE"] == "accounts":
                problems.append(f"{prefix}AUTH_MODE=accounts is for billing_app's own app; mounted in a host "
                                f"app, expected host (its Flask-Login users) or jwt")
            if config["AUTH_MODE"] == "host" and getattr(app, "login_manager", None) is None:
                problems.append(f"{prefix}AUTH_MODE=host needs Flask-Login on the host app: call "
                                "LoginManager().init_app(app) before Billing(app), or set "
                                f"{prefix}AUTH_MODE=jwt")
            if not app.secret_key:
                problems.append("the host app has no SECRET_KEY; billing_app's forms keep their CSRF token "
                                "in the host's session")
            if serving(app):  # a `flask` command checks what it uses itself (flask billing report: no Stripe key)
                problems += missing(config, "SITE_URL", "STRIPE_SECRET_KEY", prefix=prefix)
        problems += auth_problems(config, prefix=prefix)
        from billing_app.stripe_client import check_worker_timeout
        if not in_command() and (problem := check_worker_timeout(config)) is not None:
            problems.append(prefixed(problem, prefix))
        if problems:
            raise ConfigError(problems)
        billing = BillingState(settings=config, standalone=standalone, instance_path=app.instance_path,
                               url_prefix=config["URL_PREFIX"], setting_prefix=prefix)
        app.extensions["billing"] = billing
        self._set_up(app, billing, pages=pages)
        return billing

    def _set_up(self, app: Flask, billing: BillingState, *, pages: bool) -> None:
        from billing_app import db
        from billing_app.stripe_client import init_stripe

        db.init_app(app, billing)
        init_stripe(app, billing.settings, eager=not in_command())
        if not pages:  # a `flask` command: the database and Stripe, nothing a request needs
            return
        from billing_app.rate_limits import RateLimits
        from billing_app.identity import init_identity
        from billing_app.blueprint import billing_bp
        from billing_app.mail import Outbox

        app.extensions["billing_rate_limits"] = RateLimits.from_settings(billing.settings)
        app.extensions["billing_mail"] = Outbox()
        init_identity(app, billing)
        app.register_blueprint(billing_bp, url_prefix=billing.url_prefix or None)
        if billing.url_prefix:
            app.add_url_rule(billing.url_prefix + "/", "billing_root",
                             lambda: redirect(url_for("billing.account.account")))
        # The host's CSRFProtect, set up before or after Billing(app): billing checks its own (bearer
        # calls need none), so its blueprints are exempted there before the host's check runs.
        exempt_from_host_csrf(app)
        if "csrf" not in app.extensions:
            app.before_request(lambda: exempt_from_host_csrf(app))
        if billing.settings["CORS_ORIGINS"]:
            from flask_cors import CORS
            CORS(app, resources={re.escape(billing.url_prefix) + r"/api/.*": {
                "origins": list(billing.settings["CORS_ORIGINS"]), "methods": ["GET", "POST"],
                "allow_headers": ["Authorization", "Content-Type"], "expose_headers": ["Retry-After"],
                "supports_credentials": False,
                "max_age": 600}})
        if not billing.standalone:
            from billing_app.commands import host_cli_group
            app.cli.add_command(host_cli_group())


def exempt_from_host_csrf(app: Flask) -> None:
    from billing_app.blueprint import billing_bp
    csrf = app.extensions.get("csrf")
    if csrf is not None and not getattr(csrf, "_billing_exempted", False):
        exempt_blueprints(csrf, billing_bp)
        csrf._billing_exempted = True


def exempt_blueprints(csrf: Any, blueprint: Any) -> None:
    """Exempt ``blueprint`` and every blueprint nested in it from a CSRFProtect."""
    csrf.exempt(blueprint)
    for child, _options in blueprint._blueprints:
        exempt_blueprints(csrf, child)


def absolute_url(config: Mapping[str, Any], endpoint: str, **values: Any) -> str:
    """A URL of this app for Stripe or a mail to send the customer back to, built on SITE_URL
    (never the Host header); in a request or out of one (a command, a test).

    SITE_URL is where the browser reaches the app's root, so a WSGI script
    root (SCRIPT_NAME) is not added twice.
    """
    from flask import has_request_context, request

    from billing_app.errors import not_set_up
    site = config["SITE_URL"]
    if not site:
        raise not_set_up("site_url_not_set", "SITE_URL is not set: Stripe's pages "
                         "need it to send customers back")
    if not has_request_context():
        return site + current_app.url_map.bind("localhost").build(endpoint, values)
    path = url_for(endpoint, **values)
    root = request.script_root
    if root and path.startswith(root):
        path = path[len(root):]
    return site + path

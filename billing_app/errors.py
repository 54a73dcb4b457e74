"""App-wide error answers: JSON for /api/ callers, a short page for browsers.

Every error a user or operator can hit has its own status and a message that
says what happened and what to do; no stack trace reaches a client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from flask import Blueprint, got_request_exception, Flask, current_app, g, Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from billing_app.db import DATABASE_ERRORS, DatabaseUnavailable, SchemaMissing
from billing_app.request_log import logger

if TYPE_CHECKING:
    from flask_wtf.csrf import CSRFError

log = logger(__name__)


class BillingError(Exception):
    """A failure the user or operator can act on: its own status, code and message.

    ``message`` is for the customer: what they can do.  ``operator`` (when the
    fix is the operator's) says what to fix; it goes to the log and to the
    `flask` commands, never to a customer.
    """

    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None,
                 operator: str | None = None) -> None:
        super().__init__(operator or message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.operator = operator


def contact_email() -> str:
    from billing_app.billing import settings
    return settings()["CONTACT_EMAIL"]


def contact_hint() -> str:
    """The customer's way out when only the operator can fix it."""
    return f"Please try again later, or write to {contact_email()}."


def operator_text(exc: BillingError) -> str:
    """The operator's part of ``exc``, with settings named as the operator knows them (BILLING_... when mounted)."""
    from billing_app.billing import state
    from billing_app.config import prefixed
    return prefixed(exc.operator or exc.message, state().setting_prefix)


def not_set_up(code: str, operator: str, *, what: str = "Payments are") -> BillingError:
    """503 for something the operator has to set up; the operator's part is logged by the handler."""
    return BillingError(503, code, f"{what} not available right now. {contact_hint()}", operator=operator)


SHOWN_INPUT_LENGTH = 40


def shown(value: str) -> str:
    """Input quoted back in a message: a short prefix, quoted (the page or JSON escapes the rest)."""
    text = value if len(value) <= SHOWN_INPUT_LENGTH else value[:SHOWN_INPUT_LENGTH] + "..."
    return repr(text)


def wants_json() -> bool:
    """Is this a call to the JSON API (``<URL_PREFIX>/api/...``)?"""
    billing = current_app.extensions.get("billing")
    return request.path.startswith((billing.url_prefix if billing else "") + "/api/")


def error_response(status: int, code: str, message: str, *, title: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """One error, as {"error": {"code", "message"}} for the API or a page for a browser."""
    if wants_json():
        response = jsonify(error={"code": code, "message": message})
    else:
        response = make_response(render_template(
            "billing/error.html", status=status, code=code, title=title or message, message=message))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _database_unavailable(exc: DatabaseUnavailable):
    # The page shows no signed-in user: loading one would ask the database again
    # (Flask-Login's template context loads its user eagerly, into g._login_user).
    from billing_app.identity import SignIn
    g.billing_sign_in = SignIn(None)
    login_manager = getattr(current_app, "login_manager", None)
    if login_manager is not None:
        g._login_user = login_manager.anonymous_user()
    if isinstance(exc, SchemaMissing):
        log.error("database schema missing (run `flask db init`): %s", exc)
        return error_response(503, "schema_missing", f"Billing is not available right now. {contact_hint()}",
                              title="Billing is temporarily unavailable")
    log.error("database unavailable: %s", exc)
    return error_response(503, "database_unavailable",
                          "The billing database is not answering right now. Please try again in a minute.",
                          title="Billing is temporarily unavailable", headers={"Retry-After": "30"})


def _database_error(exc: psycopg.Error):
    from billing_app.db import database
    return _database_unavailable(database().translate(exc))


def _billing_error(exc: BillingError):
    if exc.operator:
        log.error("%s (answered %s %s)", operator_text(exc), exc.status, exc.code)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return error_response(exc.status, exc.code, exc.message, headers=headers)


# what a form with a missing, stale or foreign CSRF token is told (here, and on the sign-in forms)
CSRF_MESSAGE = "This form has expired or did not come from this site. Please try again."


def csrf_failed_response(exc: CSRFError):
    """400 with the page (or JSON) that says a form's token was missing, stale or foreign."""
    return error_response(400, "csrf_failed", f"{CSRF_MESSAGE} Reload the page first.",
                          title="The form could not be accepted")


def _http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return error_response(exc.code or 500, code, exc.description or exc.name, title=exc.name,
                          headers=headers)


def _unexpected_error(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    # error trackers (Sentry...) listen for this signal; a handled 500 would not send it
    got_request_exception.send(current_app._get_current_object(), exception=exc)
    return error_response(500, "internal_error",
                          f"Something went wrong on our side. {contact_hint()}",
                          title="Something went wrong")


def register(app: Flask | Blueprint) -> None:
    """The error answers, on an app (standalone) or on billing's blueprint (its views only, when mounted)."""
    app.register_error_handler(DatabaseUnavailable, _database_unavailable)
    # raised by a query on the request's connection (get_db): read as Database.connection() reads it
    for error in DATABASE_ERRORS:
        app.register_error_handler(error, _database_error)
    from flask_wtf.csrf import CSRFError  # here: `flask` commands import this module and serve no form
    app.register_error_handler(CSRFError, csrf_failed_response)
    app.register_error_handler(BillingError, _billing_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

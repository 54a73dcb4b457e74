"""A small Flask product, "Acme Notes", with its own users, that mounts billing_app.

The app signs its users in with Flask-Login (users in a dict here; a database in
a real product) and adds billing with one line, ``Billing(app)``: the account
page, pricing, the "Manage subscription" button and the JSON API appear under
/billing, for whoever Flask-Login says is signed in.  A user's id (a UUID
string here) is what the Stripe customer's ``metadata[user_id]`` must hold.

    cd examples/host_app
    flask --app app run --debug        # or: python app.py
    # sign in as ada@example.com or edsger@example.com, password DEMO_PASSWORD below

Billing settings come from this app's config or the environment, each with a
``BILLING_`` prefix: BILLING_DATABASE_URL (unset: an embedded PostgreSQL in
./instance), BILLING_STRIPE_SECRET_KEY, BILLING_SITE_URL...
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.security import check_password_hash, generate_password_hash

from billing_app import Billing

# --- users -----------------------------------------------------------------------

DEMO_PASSWORD = "notes-demo-password"  # both example users have it


@dataclass(eq=False)
class User(UserMixin):
    # billing_app reads get_id() (UserMixin: the id) as the user id, any text of 1 to 255
    # characters, and .email, which it puts on the Stripe customer it creates at checkout.
    id: str  # a UUID string
    email: str
    name: str
    password_hash: str


USERS: dict[str, User] = {
    user.id: user
    for user in (
        User(id="6f1c2a4e-8d3b-4c7a-9e52-1b0d7f3a9c11", email="ada@example.com", name="Ada",
             password_hash=generate_password_hash(DEMO_PASSWORD)),
        User(id="c0a8e7d2-5b14-4f6e-8a39-7e2d9b4c1f08", email="edsger@example.com", name="Edsger",
             password_hash=generate_password_hash(DEMO_PASSWORD)),
    )
}

# Compared against when the email is unknown, so a wrong email takes as long as a wrong password.
_UNKNOWN_USER_HASH = generate_password_hash(secrets.token_hex(16))


def user_by_email(email: str) -> User | None:
    email = email.strip().lower()
    return next((user for user in USERS.values() if user.email == email), None)


# --- extensions ------------------------------------------------------------------

login_manager = LoginManager()
login_manager.login_view = "login"  # billing pages send signed-out users here, with ?next=
login_manager.login_message_category = "info"

csrf = CSRFProtect()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return USERS.get(user_id)


# --- the app ---------------------------------------------------------------------

def defaults() -> dict[str, Any]:
    """This app's settings before ``config`` is merged over them."""
    return {
        # Set SECRET_KEY in production: a fresh random key signs everyone out at each restart,
        # and processes with different keys cannot read each other's sessions.
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # a form's token lives as long as the session
        # Where browsers reach this app: Stripe sends customers back to BILLING_SITE_URL/billing/account.
        "BILLING_SITE_URL": os.environ.get("BILLING_SITE_URL", "http://127.0.0.1:5000"),
        "BILLING_COMPANY_NAME": os.environ.get("BILLING_COMPANY_NAME", "Acme Notes"),
        # Any other BILLING_* setting is read from the environment when it is not in the config.
    }


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The app; ``config`` (tests) is merged over the defaults before billing_app reads its settings."""
    app = Flask(__name__)
    app.config.update(defaults())
    app.config.update(config or {})

    # Order matters: billing_app uses the host's Flask-Login and exempts its own
    # blueprint from the host's CSRFProtect (its forms check their own token, and
    # bearer-token API calls need none), so both are set up first.
    login_manager.init_app(app)
    csrf.init_app(app)
    Billing(app)  # /billing/account, /billing/pricing, /billing/portal, /billing/api/...

    register_views(app)
    return app


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (never another host), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def register_views(app: Flask) -> None:
    @app.route("/")
    def home():
        return render_template("home.html")

    # The sign-in form is exempt from CSRF to keep the example short (and to let tests
    # sign in with a plain POST). A real app keeps it protected against login CSRF:
    # remove @csrf.exempt and the template's csrf_token() field does the rest.
    @app.route("/login", methods=["GET", "POST"])
    @csrf.exempt
    def login():
        next_url = safe_next(request.values.get("next"))
        if current_user.is_authenticated:
            return redirect(next_url or url_for("home"))
        error = None
        if request.method == "POST":
            user = user_by_email(request.form.get("email", ""))
            password = request.form.get("password", "")
            if check_password_hash(user.password_hash if user else _UNKNOWN_USER_HASH, password) and user:
                login_user(user, remember=bool(request.form.get("remember")))
                return redirect(next_url or url_for("home"), 303)
            error = "That email and password do not match."
        status = 401 if error else 200
        return render_template("login.html", error=error, next_url=next_url,
                               email=request.form.get("email", "")), status

    @app.route("/logout", methods=["POST"])  # protected by CSRFProtect: a link elsewhere cannot sign you out
    def logout():
        logout_user()
        flash("You are signed out.", "info")
        return redirect(url_for("home"), 303)


if __name__ == "__main__":
    # Debug from the start: outside debug, tests and `flask` commands, Billing(app) requires
    # BILLING_SITE_URL and BILLING_STRIPE_SECRET_KEY (as a production server needs them).
    create_app({"DEBUG": True}).run(debug=True)

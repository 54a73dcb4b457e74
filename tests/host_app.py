"""A SaaS team's own Flask app, as the tests need one: its own users (UUID ids), its own
Flask-Login, CSRFProtect, sign-in page and error handler, with billing_app mounted by
``Billing(app)``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, jsonify, redirect, request
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_wtf.csrf import CSRFProtect

from billing_app import Billing


@dataclass
class HostUser(UserMixin):
    id: str | None
    email: str
    locale: str | None = None  # as a host's user model may keep it (POSIX or BCP 47, any language)

    def get_id(self):
        return self.id


USERS = {
    "ada@host.test": HostUser("0b9d5c1e-3f4a-4d2b-8c7e-1a2b3c4d5e6f", "ada@host.test"),
    "bob@host.test": HostUser("7", "bob@host.test"),
    "ghost@host.test": HostUser(None, "ghost@host.test"),  # a host user class whose id is not set
    "blank@host.test": HostUser("", "blank@host.test"),
    "ines@host.test": HostUser("ines-1", "ines@host.test", locale="pt_BR"),
    "kim@host.test": HostUser("kim-1", "kim@host.test", locale="tlh"),  # Klingon: not one of Stripe's
}


def create_host_app(config: dict, *, template_folder: str | None = None) -> Flask:
    app = Flask("host_app", template_folder=template_folder)
    app.config.update(SECRET_KEY="host-secret-" + "h" * 40, SITE_URL="https://host.example", **config)
    login_manager = LoginManager(app)
    login_manager.login_view = "login"
    csrf = CSRFProtect(app)  # before Billing(app): billing's blueprint is exempted from it, checks its own

    @login_manager.user_loader
    def load(user_id):
        return next((u for u in USERS.values() if u.id == user_id), None)

    @login_manager.request_loader
    def load_from_header(request):  # a host that signs API callers in by header
        return USERS.get(request.headers.get("X-Host-User", ""))

    @app.route("/")
    def home():
        return f"host home for {current_user.email if current_user.is_authenticated else 'nobody'}"

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            login_user(USERS[request.form["email"]])
            return redirect(request.args.get("next") or "/")
        return ("<!doctype html><title>Host sign-in</title><h1>The host's sign-in page</h1>"
                '<form method="post"><input id="email" name="email"><button type="submit">Sign in</button></form>')

    csrf.exempt(login)  # keeps the test short; a real host checks its own form

    @app.route("/boom")
    def boom():
        raise RuntimeError("the host's own error")

    @app.errorhandler(404)
    def not_found(exc):
        return jsonify(host="not found"), 404

    Billing(app)
    return app

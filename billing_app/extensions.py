"""Flask extensions, created unbound; ``create_app`` binds them to billing_app's own app."""

from flask_login import LoginManager

login_manager = LoginManager()  # the built-in accounts (AUTH_MODE=accounts)

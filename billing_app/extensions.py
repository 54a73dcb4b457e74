"""Flask extensions, created unbound; ``create_app`` binds them to the app."""

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()

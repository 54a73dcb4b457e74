"""Flask extensions, created unbound; ``create_app`` binds them to the app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
# No default limits: each limited view names its own (see portal/views.py).
limiter = Limiter(key_func=get_remote_address)

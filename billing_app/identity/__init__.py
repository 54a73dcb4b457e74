"""Who the signed-in user is, in each AUTH_MODE, as one ``BillingUser``.

- ``accounts``: billing_app's built-in accounts (Flask-Login, see auth/).
- ``host``: the host app's Flask-Login ``current_user`` (``get_id()`` and ``email``).
- ``jwt``: a token from the host's identity provider (tokens.py), from the
  ``Authorization: Bearer`` header or the ``JWT_COOKIE`` cookie.

Everything past this module sees only ``BillingUser``: a text id (any string
of 1 to 255 characters), an email when known and a locale for Stripe's pages.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable
from urllib.parse import quote

from flask import Flask, current_app, g, redirect, request

from billing_app.errors import BillingError, error_response, wants_json
from billing_app.stripe_client import stripe_locale

USER_ID_MAX_LENGTH = 255


@dataclass(frozen=True)
class BillingUser:
    id: str
    email: str | None = None
    locale: str | None = None
    via: str = "session"  # "session", "bearer" or "cookie": how the request proved who it is
    # whether the user showed they receive mail at ``email``: built-in accounts know (Checkout waits
    # for it); a host app or an identity provider answers for its own users
    email_verified: bool = True

    @property
    def by_bearer_token(self) -> bool:
        return self.via == "bearer"


def valid_user_id(value: Any) -> str | None:
    """``value`` as a user id (text), or None when it cannot be one.

    An id is 1 to 255 characters of UTF-8 text without control, format or
    separator characters (no NUL, no zero-width space, no lone surrogate) and
    without spaces around it, so that the id a customer's metadata holds and
    the id a user arrives with compare equal byte for byte.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    if not 0 < len(text) <= USER_ID_MAX_LENGTH or text != text.strip():
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in text):
        return None
    return text


def user_from_login(user: Any) -> BillingUser | None:
    """The Flask-Login user (ours or the host's) as a BillingUser; None when signed out."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:  # billing_user_id: a user class whose get_id() holds more than the id (built-in accounts)
        user_id = valid_user_id(getattr(user, "billing_user_id", None) or user.get_id())
    except Exception:  # noqa: BLE001  a host user class whose get_id() fails is a signed-out user
        return None
    if user_id is None:
        return None
    email = getattr(user, "email", None)
    locale = getattr(user, "locale", None)
    return BillingUser(id=user_id, email=email if isinstance(email, str) and email else None,
                       locale=stripe_locale(locale),  # a host's user model: any tag, or a Babel Locale
                       email_verified=getattr(user, "email_verified", True) is not False)


@dataclass(frozen=True)
class SignIn:
    """The outcome of reading the request: a user, or why there is none."""

    user: BillingUser | None
    problem: Exception | None = None  # tokens.TokenRejected or tokens.KeysUnavailable


def _read_request() -> SignIn:
    from billing_app.billing import state
    billing = state()
    if billing.auth_mode == "jwt":
        from billing_app.identity.tokens import KeysUnavailable, TokenRejected
        try:
            return SignIn(billing.verifier.user_from_request(request))
        except (TokenRejected, KeysUnavailable) as exc:
            return SignIn(None, exc)
    from flask_login import current_user
    return SignIn(user_from_login(current_user._get_current_object()))


def sign_in() -> SignIn:
    if "billing_sign_in" not in g:
        g.billing_sign_in = _read_request()
    return g.billing_sign_in


def current_billing_user() -> BillingUser | None:
    """The signed-in user of this request, or None (read once per request)."""
    return sign_in().user


def sign_in_required(view: Callable) -> Callable:
    """A view for signed-in users only; others get ``unauthorized()``."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_billing_user() is None:
            return unauthorized()
        return view(*args, **kwargs)
    return wrapped


# A page's statement for a user id: (SQL, parameters); see read_with_sign_in.
UserRead = Callable[[str], tuple[str, dict]]
NOT_READ = object()


def read_with_sign_in(read: UserRead) -> Callable:
    """For a view that reads one row for the signed-in user (put right under the route): where
    signing in reads the database (built-in accounts), ``read`` goes with the user's own row, one
    round trip instead of two, whenever this request signs the user in (a CSRF check before the
    view included); the view takes its row from ``row_read_with_sign_in``."""
    def decorator(view: Callable) -> Callable:
        view.billing_read_with_sign_in = read
        return view
    return decorator


def read_for_sign_in() -> UserRead | None:
    """The statement to read with the user's row on this request, if its view asked for one (the
    user loader's side of read_with_sign_in)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "billing_read_with_sign_in", None)


def keep_read_with_sign_in(read: UserRead, user_id: str, row: dict | None) -> None:
    """The user loader's row of ``read``, for the signed-in ``user_id`` only (see row_read_with_sign_in)."""
    g.billing_row_read_with_sign_in = (read, user_id, row)


def row_read_with_sign_in(read: UserRead, user: BillingUser) -> dict | None | object:
    """The row ``read`` gave with ``user``'s own (None: the statement gave none), or NOT_READ when
    signing in read nothing (a host's users, tokens), or read something else or for someone else:
    the view then runs the statement itself."""
    found = g.get("billing_row_read_with_sign_in")
    return found[2] if found is not None and found[0] is read and found[1] == user.id else NOT_READ


def unauthorized():
    """Not signed in: 401 JSON for the API; a page goes where this AUTH_MODE signs people in."""
    from billing_app.billing import state
    from billing_app.identity.tokens import KeysUnavailable
    problem = sign_in().problem
    if isinstance(problem, KeysUnavailable):
        raise BillingError(503, "sign_in_unavailable", str(problem), retry_after=30)
    mode = state().auth_mode
    if wants_json():
        if problem is not None:
            return error_response(401, "invalid_token", f"The sign-in token was refused: {problem}.",
                                  headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return error_response(401, "unauthorized", "Sign in first: this needs a signed-in user.",
                              headers={"WWW-Authenticate": "Bearer" if mode == "jwt" else "Session"})
    if mode == "host":
        return current_app.login_manager.unauthorized()
    if mode == "jwt":
        target = login_url_for(current_page())
        if target:
            return redirect(target, 303)
        return error_response(401, "unauthorized", "Sign in on the main site first, then come back here.",
                              title="Please sign in")
    from billing_app.auth.views import unauthorized as accounts_sign_in
    return accounts_sign_in()


def current_page() -> str | None:
    """The page to come back to after signing in: this request's path and query when it is a GET."""
    return request.full_path.rstrip("?") if request.method == "GET" else None


def login_url_for(next_path: str | None) -> str | None:
    """Where to sign in, coming back to ``next_path`` (a path of this app) after; None when unknown."""
    from billing_app.billing import settings, state
    billing = state()
    if billing.auth_mode == "accounts":
        from flask import url_for
        return url_for("auth.login", next=next_path)
    if billing.auth_mode == "jwt":
        login_url = billing.settings["LOGIN_URL"]
        if not login_url:
            return None
        site = settings()["SITE_URL"]
        back = site + next_path if site and next_path else (site or "")
        return login_url.replace("{next}", quote(back, safe=""))
    view = getattr(current_app.login_manager, "login_view", None)
    if not isinstance(view, str):
        return None
    from flask import url_for
    return url_for(view, next=next_path) if next_path else url_for(view)


def init_identity(app: Flask, billing: Any) -> None:
    """Set up what the AUTH_MODE needs on ``app``."""
    if billing.auth_mode == "jwt":
        from billing_app.identity.tokens import TokenVerifier
        billing.verifier = TokenVerifier.from_settings(billing.settings)
    elif billing.auth_mode == "accounts":
        from billing_app.extensions import login_manager
        login_manager.init_app(app)
        login_manager.unauthorized_handler(unauthorized)  # flask_login's login_required (settings) the same way

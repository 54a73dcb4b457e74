from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from billing_app.auth import bp
from billing_app.auth.forms import LoginForm, SignupForm
from billing_app.auth.users import (SignupError, authenticate, create_user, end_sessions, stored_address,
                                    user_by_session_id, user_with_row)
from billing_app.billing import settings
from billing_app.db import get_db
from billing_app.errors import CSRF_MESSAGE, BillingError, csrf_failed_response
from billing_app.extensions import login_manager
from billing_app.identity import keep_read_with_sign_in, read_for_sign_in
from billing_app.rate_limits import client_address, rate_limit, rate_limits
from billing_app.stripe_client import STRIPE_LOCALES


@login_manager.user_loader
def load_user(session_id: str):
    read = read_for_sign_in()
    if read is None:
        return user_by_session_id(get_db(), session_id)
    user, row = user_with_row(get_db(), session_id, read)  # the page's data in the same round trip
    if user is not None:
        keep_read_with_sign_in(read, user.billing_user_id, row)
    return user


def start_session(user) -> None:
    """Sign ``user`` in on a fresh session: nothing from before (a planted session id, the signed-out
    visitor's CSRF token) carries over."""
    session.clear()
    login_user(user)


def unauthorized():
    """A page for signed-in users, without one: the sign-in page, coming back here after.

    (identity.unauthorized answers the JSON API itself.)
    """
    if request.method == "GET":
        target = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
    else:
        target = _referring_page()  # a form was posted: go back to the page it was on
    flash("Please sign in to continue.", "info")
    query = "?" + urlencode({"next": target}, safe="/") if target else ""
    return redirect(url_for("auth.login") + query)


def _referring_page() -> str | None:
    """The path of the Referer when it is a page of this site (SITE_URL), else None."""
    referrer, site = urlsplit(request.referrer or ""), urlsplit(settings()["SITE_URL"])
    if (referrer.scheme, referrer.netloc) != (site.scheme, site.netloc):
        return None
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _after_sign_in():
    return redirect(safe_next(request.args.get("next")) or url_for("billing.account.account"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignupForm()
    if request.method == "POST":
        rate_limit(settings()["SIGN_UP_RATE_LIMIT"], "sign_up", client_address())
    if form.validate_on_submit():
        try:
            # the browser's language, for Stripe-hosted pages
            locale = request.accept_languages.best_match(STRIPE_LOCALES)
            user = create_user(get_db(), form.email.data, form.password.data, locale=locale)
        except SignupError as exc:
            form[exc.field].errors.append(str(exc))
            return render_template("auth/signup.html", form=form), exc.status
        start_session(user)
        from billing_app.auth.recovery import send_address_confirmation
        try:
            send_address_confirmation(user, user.email)
        except BillingError:  # the account stands; the link can be sent again from the settings
            flash("Your account is ready, but the mail to confirm your address could not be sent. "
                  "Send it again from your settings.", "error")
        else:
            flash(f"Your account is ready. We sent a link to {user.email}: open it to confirm your address.",
                  "success")
        return _after_sign_in()
    status = 400 if request.method == "POST" else 200
    return render_template("auth/signup.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return _after_sign_in()
    form = LoginForm()
    if request.method == "POST":  # before the password hash is computed: guessing costs the guesser
        typed = (form.email.data or "")[:320]
        failures = (settings()["SIGN_IN_RATE_LIMIT"], "sign_in_failures",  # every spelling of an address alike
                    f"{stored_address(typed) or typed.strip().lower()}|{client_address()}")
        rate_limit(settings()["SIGN_IN_IP_RATE_LIMIT"], "sign_in_address", client_address())
        rate_limits().check(*failures)
    if form.validate_on_submit():
        user = authenticate(get_db(), form.email.data, form.password.data)
        if user is None:
            rate_limits().hit(*failures)
        else:
            rate_limits().clear(*failures)
            start_session(user)
            return _after_sign_in()
        form.password.errors.append("The email or password is not right.")
        return render_template("auth/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        end_sessions(get_db(), current_user.id)  # this one, and every copy of its cookies
    session.clear()
    logout_user()  # after the clear: it leaves the note that deletes a remember-me cookie
    flash("You are signed out.", "info")
    return redirect(url_for("main.home"))


@bp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError):
    """A bad or missing CSRF token on a sign-in form: show the form again, saying why."""
    templates = {"auth.signup": ("auth/signup.html", SignupForm),
                 "auth.login": ("auth/login.html", LoginForm)}
    if request.endpoint not in templates:
        return csrf_failed_response(exc)
    template, form_class = templates[request.endpoint]
    form = form_class(formdata=None)
    form.email.data = request.form.get("email", "")
    return render_template(template, form=form, form_error=CSRF_MESSAGE), 400

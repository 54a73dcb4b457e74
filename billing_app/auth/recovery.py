"""What a built-in account can do besides signing in: confirm its address, reset a forgotten
password, change its address or password (pages /settings, /forgot-password and the mailed links).

Mail goes to the outbox (mail.send_mail): no request waits on the mail server, and a reset
request answers the same whether or not an account uses the address.  A mailed link only
shows a page; its button (a POST) acts, so a mail scanner that opens links changes nothing.
Every address change is confirmed from the new address; the old one is told, with a link that
takes the account back.  A changed address also goes to the Stripe customer, whose receipts
follow it.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from billing_app.auth import bp
from billing_app.auth.forms import EmailChangeForm, ForgotPasswordForm, NewPasswordForm, PasswordChangeForm
from billing_app.auth.links import (ADDRESS_MAX_AGE, RESET_MAX_AGE, UNDO_MAX_AGE, address_token,
                                    password_reset_token, read_address_token, read_undo_token, undo_token,
                                    user_for_password_reset)
from billing_app.auth.users import (SignupError, User, authenticate, confirm_email, normalize_email,
                                    set_password, take_back, user_by_email)
from billing_app.auth.views import start_session
from billing_app.billing import absolute_url, settings
from billing_app.db import close_db, get_db
from billing_app.errors import BillingError
from billing_app.mail import send_mail
from billing_app.mirror.customers import customer_for_user
from billing_app.rate_limits import client_address, rate_limit, rate_limits
from billing_app.request_log import logger
from billing_app.stripe_client import new_idempotency_key, stripe_api

log = logger(__name__)
RESET_SENT = "If an account uses that address, a link to choose a new password is on its way. It works for an hour."
LINK_EXPIRED = "This link has expired or no longer applies."
RESET_LINK_USED = "This link has expired or was already used. Ask for a new one on the sign-in page."


def _age(seconds: int) -> str:
    hours = seconds // 3600
    return f"{hours // 24} days" if hours >= 48 else f"{hours} hour{'s' if hours != 1 else ''}"


def _mail(to: str, subject: str, body: str) -> None:
    """One mail, already counted by the caller (``_count_mail``)."""
    send_mail(settings(), to, subject, f"Hello,\n\n{body}\n\n{settings()['COMPANY_NAME']}\n")


def _count_mail(counted_as: str) -> None:
    """One mail against MAIL_RATE_LIMIT for ``counted_as`` (who asked, and for which address)."""
    rate_limit(settings()["MAIL_RATE_LIMIT"], "mail", counted_as)


def send_address_confirmation(user: User, address: str) -> None:
    """Mail ``address`` the link that confirms it for ``user``."""
    budgets = [f"user:{user.id}"]
    if address != user.email:  # a new address is also counted for itself: accounts cannot flood one mailbox
        budgets.append(f"to:{address}")  # (an account's own address is its alone: its budget is the account's)
    for counted_as in budgets:  # none spent unless all have room
        rate_limits().check(settings()["MAIL_RATE_LIMIT"], "mail", counted_as)
    for counted_as in budgets:
        _count_mail(counted_as)
    link = absolute_url(settings(), "auth.confirm_address", token=address_token(user, address))
    _mail(address, f"Confirm your email address for {settings()['COMPANY_NAME']}",
          f"open this link to confirm that {address} is your address at {settings()['COMPANY_NAME']}:\n\n"
          f"{link}\n\nIt works for {_age(ADDRESS_MAX_AGE)}. If you did not ask for this, ignore this mail.")


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if request.method == "POST":
        rate_limit(settings()["SIGN_IN_IP_RATE_LIMIT"], "password_reset_address", client_address())
    if form.validate_on_submit():
        try:
            email = normalize_email(form.email.data)
        except SignupError as exc:
            form.email.errors.append(str(exc))
            return render_template("auth/forgot_password.html", form=form), 400
        # counted whether or not an account uses the address: a 429 that came only for addresses with
        # accounts would tell which have one
        _count_mail(f"{email}|{client_address()}")
        user = user_by_email(get_db(), email)
        if user is not None:  # the outbox answers at once: no timing tells whether the address has an account
            link = absolute_url(settings(), "auth.reset_password", token=password_reset_token(user))
            try:
                _mail(user.email, f"Choose a new password for {settings()['COMPANY_NAME']}",
                      f"someone (we hope you) asked to choose a new password for {user.email}. Open this link "
                      f"to choose it:\n\n{link}\n\nIt works once, for {_age(RESET_MAX_AGE)}. If you did not ask "
                      "for this, ignore this mail: your password stays as it is.")
            except BillingError:  # (a full outbox): answered like any address, or the 503 would tell (logged)
                log.error("the password reset mail for user %s could not be queued", user.id)
        flash(RESET_SENT, "info")
        return redirect(url_for("auth.login"), 303)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = user_for_password_reset(get_db(), token)
    if user is None:
        raise BillingError(400, "link_expired", RESET_LINK_USED)
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            changed = set_password(get_db(), user, form.password.data)
        except SignupError as exc:
            form.password.errors.append(str(exc))
            return render_template("auth/reset_password.html", form=form, email=user.email), 400
        if changed is None:
            raise BillingError(400, "link_expired", RESET_LINK_USED)
        user = confirm_email(get_db(), changed.id, changed.email) or changed  # the mail reached them
        start_session(user)
        flash("Your new password is set; every other device was signed out.", "success")
        return redirect(url_for("billing.account.account"), 303)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset_password.html", form=form, email=user.email), status


@bp.route("/confirm-address/<token>", methods=["GET", "POST"])
def confirm_address(token: str):
    read = read_address_token(get_db(), token)
    if read is None:
        raise BillingError(400, "link_expired", f"{LINK_EXPIRED} Send a new one from your settings.")
    account, address = read
    if request.method == "GET":
        return render_template("auth/confirm.html", heading="Confirm your email address",
                               text=f"Confirm {address} as the address of your account.", button="Confirm")
    try:
        confirm_email(get_db(), account.id, account.email, address if address != account.email else None)
    except SignupError as exc:
        raise BillingError(409, "email_taken", str(exc)) from None
    if address == account.email:
        flash("Your email address is confirmed.", "success")
    else:
        _tell_old_address(account, address)
        flash(f"Your email address is now {address}.", "success")
        _update_billing_email(account, address)
    return redirect(url_for("auth.account_settings" if current_user.is_authenticated else "auth.login"), 303)


def _tell_old_address(account: User, address: str) -> None:
    """The old address learns of the change, with a link that takes the account back."""
    undo = absolute_url(settings(), "auth.take_back_account", token=undo_token(account, address))
    try:
        _count_mail(f"old-address:{account.email}")  # its own budget: whoever made the change cannot spend it
        _mail(account.email, f"Your email address at {settings()['COMPANY_NAME']} changed",
              f"the address of your account changed from {account.email} to {address}. If that was not you, "
              f"open this link within {_age(UNDO_MAX_AGE)}: it puts your address back, signs everyone out "
              f"and lets you choose a new password.\n\n{undo}")
    except BillingError:  # the change stands; the log says why the notice did not go
        log.error("the old address of user %s was not told of the change", account.id)


def _update_billing_email(account: User, address: str) -> None:
    """The Stripe customer's email (where receipts go) follows the account's address."""
    customer = customer_for_user(get_db(), account.billing_user_id, user_key=settings()["STRIPE_CUSTOMER_USER_KEY"])
    if customer is None:
        return
    options = {"idempotency_key": new_idempotency_key()}
    close_db()  # none held while Stripe answers
    try:
        stripe_api().call(lambda client: client.v1.customers.update(customer["id"], params={"email": address},
                                                                     options=options))
    except BillingError:
        flash("Receipts still go to your old address for now: change it in the billing portal "
              "(Manage subscription).", "error")


@bp.route("/take-back/<token>", methods=["GET", "POST"])
def take_back_account(token: str):
    link = read_undo_token(get_db(), token)
    if link is None:
        raise BillingError(400, "link_expired", f"{LINK_EXPIRED} Write to {settings()['CONTACT_EMAIL']}.")
    account, changed_to, address = link.user, link.changed_to, link.address
    if request.method == "GET":
        return render_template("auth/confirm.html", heading="Take your account back",
                               text=f"Put {address} back as the address of your account (it was changed to "
                                    f"{changed_to}), sign everyone out and choose a new password.",
                               button="Take my account back")
    try:
        account = take_back(get_db(), account.id, address, link.made)
    except SignupError as exc:
        raise BillingError(409, "email_taken", str(exc)) from None
    if account is None:
        raise BillingError(400, "link_expired", f"{LINK_EXPIRED} Write to {settings()['CONTACT_EMAIL']}.")
    log.warning("user %s took their account back to %s from %s", account.id, address, changed_to)
    _update_billing_email(account, address)
    return redirect(url_for("auth.reset_password", token=password_reset_token(account)), 303)


@bp.route("/settings")
@login_required
def account_settings():
    return render_template("auth/settings.html", email_form=EmailChangeForm(formdata=None),
                           password_form=PasswordChangeForm(formdata=None))


@bp.route("/settings/confirm-address", methods=["POST"])
@login_required
def resend_confirmation():
    if current_user.email_verified:
        flash("Your email address is already confirmed.", "info")
    else:
        send_address_confirmation(current_user, current_user.email)
        flash(f"We sent a new link to {current_user.email}.", "info")
    return redirect(url_for("auth.account_settings"), 303)


def _check_current_password(field) -> bool:
    """The signed-in user's password, guesses counted like sign-in failures."""
    failures = (settings()["SIGN_IN_RATE_LIMIT"], "sign_in_failures", f"{current_user.email}|{client_address()}")
    rate_limits().check(*failures)
    if authenticate(get_db(), current_user.email, field.data) is None:
        rate_limits().hit(*failures)
        field.errors.append("That is not your password.")
        return False
    return True


def _settings_page(email_form: EmailChangeForm, password_form: PasswordChangeForm):
    return render_template("auth/settings.html", email_form=email_form, password_form=password_form), 400


@bp.route("/settings/email", methods=["POST"])
@login_required
def change_email():
    form = EmailChangeForm()
    if not (form.validate_on_submit() and _check_current_password(form.current_password)):
        return _settings_page(form, PasswordChangeForm(formdata=None))
    try:
        new = normalize_email(form.email.data)
    except SignupError as exc:
        form.email.errors.append(str(exc))
        return _settings_page(form, PasswordChangeForm(formdata=None))
    if new == current_user.email:
        form.email.errors.append("That is already your address.")
        return _settings_page(form, PasswordChangeForm(formdata=None))
    send_address_confirmation(current_user, new)
    flash(f"We sent a link to {new}: your address changes when you open it.", "info")
    return redirect(url_for("auth.account_settings"), 303)


@bp.route("/settings/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if not (form.validate_on_submit() and _check_current_password(form.current_password)):
        return _settings_page(EmailChangeForm(formdata=None), form)
    try:
        user = set_password(get_db(), current_user, form.password.data)
    except SignupError as exc:
        form.password.errors.append(str(exc))
        return _settings_page(EmailChangeForm(formdata=None), form)
    if user is None:  # another request changed it first, and signed this device out
        raise BillingError(409, "password_changed", "Your password was changed meanwhile: sign in with the new one.")
    start_session(user)  # this device stays signed in, on the new session version
    flash("Your password is changed; every other device was signed out.", "success")
    return redirect(url_for("auth.account_settings"), 303)

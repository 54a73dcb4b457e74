from flask import jsonify, render_template, request

from billing_app.account import bp
from billing_app.account.summary import account_summary, summary_of
from billing_app.billing import settings
from billing_app.db import get_db
from billing_app.hosted_pages import RETURN_PARAM, RETURN_SOURCES
from billing_app.identity import (NOT_READ, current_billing_user, read_with_sign_in, row_read_with_sign_in,
                                  sign_in_required)
from billing_app.mirror import account_page, account_rows_from
from billing_app.rate_limits import per_user_limit


def account_page_for(user_id: str) -> tuple[str, dict]:
    return account_page(user_id, user_key=settings()["STRIPE_CUSTOMER_USER_KEY"])


def summary_for(user):
    row = row_read_with_sign_in(account_page_for, user)  # built-in accounts: read with the user's row
    if row is NOT_READ:
        return account_summary(get_db(), user.id, user_key=settings()["STRIPE_CUSTOMER_USER_KEY"])
    return summary_of(account_rows_from(row, user.id))


@bp.route("/account")
@read_with_sign_in(account_page_for)
@sign_in_required
def account():
    summary = summary_for(current_billing_user())
    notice = RETURN_SOURCES.get(request.args.get(RETURN_PARAM))
    # the fingerprint the page's poll compares against; only needed with the notice
    fingerprint = summary.as_json()["fingerprint"] if notice else None
    response = render_template("billing/account.html", summary=summary, freshness_notice=notice,
                               fingerprint=fingerprint)
    return response


@bp.route("/api/billing/summary")
@sign_in_required
@per_user_limit("API_RATE_LIMIT", "api")
def billing_summary():
    """The signed-in user's subscription state as JSON (the page's freshness poll uses it).  Not
    read with the sign-in: the rate limit comes first, so an over-eager poll costs one user row."""
    return jsonify(summary_for(current_billing_user()).as_json())
